;; The two byte-scanning kernels of the J and F metrics in WebAssembly SIMD, 16 pixels per step
;; (maskMetrics.ts keeps the reference in JavaScript and calls these for large images):
;; - bits: one bit per pixel (bit i of word k = pixel 32k + i), selected when the byte is non-zero or,
;;   in "equal" mode, equal to a value: i8x16.eq / ne, then i8x16.bitmask gives 16 bits at once;
;; - label_rows: the first and last row holding each label value 1..255, skipping background chunks
;;   (v128.any_true) and one-label chunks (all 16 bytes equal) whole;
;; - dilate: binary dilation of packed rows by a disk, four 32-bit words per step (the row dilated
;;   horizontally by 1..r pixels, one pixel per step, then ORed into the rows the disk covers).
;; All pointers are byte offsets into the exported memory; the host copies the bytes in.
;; Assembled by tools/gen-wasm.ts into maskBits.wasm.ts (do not edit that file).
(module
  (memory (export "memory") 1)

  ;; words: how many 32-pixel words to write (src holds 32 * words bytes); equal: 0 = non-zero
  ;; bytes, 1 = bytes equal to value
  (func (export "bits") (param $src i32) (param $words i32) (param $equal i32) (param $value i32) (param $out i32)
    (local $end i32) (local $rep v128) (local $zero v128) (local $v0 v128) (local $v1 v128)
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $words) (i32.const 2))))
    (local.set $rep (i8x16.splat (local.get $value)))
    (local.set $zero (v128.const i32x4 0 0 0 0))
    (if (local.get $equal)
      (then
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
            (i32.store (local.get $out)
              (i32.or
                (i8x16.bitmask (i8x16.eq (v128.load (local.get $src)) (local.get $rep)))
                (i32.shl (i8x16.bitmask (i8x16.eq (v128.load offset=16 (local.get $src)) (local.get $rep))) (i32.const 16))))
            (local.set $src (i32.add (local.get $src) (i32.const 32)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (br $next))))
      (else
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
            (local.set $v0 (v128.load (local.get $src)))
            (local.set $v1 (v128.load offset=16 (local.get $src)))
            (i32.store (local.get $out)
              (if (result i32) (v128.any_true (v128.or (local.get $v0) (local.get $v1)))
                (then
                  (i32.or
                    (i8x16.bitmask (i8x16.ne (local.get $v0) (local.get $zero)))
                    (i32.shl (i8x16.bitmask (i8x16.ne (local.get $v1) (local.get $zero))) (i32.const 16))))
                (else (i32.const 0))))
            (local.set $src (i32.add (local.get $src) (i32.const 32)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (br $next)))))
  )

  ;; first[v] = y the first time label v is seen, last[v] = y every time (two i32 arrays of 256)
  (func $see (param $v i32) (param $y i32) (param $first i32) (param $last i32)
    (local $at i32)
    (local.set $at (i32.shl (local.get $v) (i32.const 2)))
    (if (i32.lt_s (i32.load (i32.add (local.get $last) (local.get $at))) (i32.const 0))
      (then (i32.store (i32.add (local.get $first) (local.get $at)) (local.get $y))))
    (i32.store (i32.add (local.get $last) (local.get $at)) (local.get $y))
  )

  ;; labels: width x height bytes, row-major; first / last: i32[256] each, set to height / -1 by the host
  (func (export "label_rows") (param $labels i32) (param $width i32) (param $height i32) (param $first i32) (param $last i32)
    (local $y i32) (local $row i32) (local $p i32) (local $end i32) (local $v v128) (local $b i32)
    (local $q i32) (local $qEnd i32) (local $c i32) (local $prev i32)
    (local.set $y (i32.const 0))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $height)))
        (local.set $row (i32.add (local.get $labels) (i32.mul (local.get $y) (local.get $width))))
        (local.set $p (local.get $row))
        (local.set $end (i32.add (local.get $row) (local.get $width)))
        ;; whole 16-byte chunks
        (block $chunksDone
          (loop $chunks
            (br_if $chunksDone (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
            (local.set $v (v128.load (local.get $p)))
            (if (v128.any_true (local.get $v))
              (then
                (local.set $b (i8x16.extract_lane_u 0 (local.get $v)))
                (if (i8x16.all_true (i8x16.eq (local.get $v) (i8x16.splat (local.get $b))))
                  (then (call $see (local.get $b) (local.get $y) (local.get $first) (local.get $last)))
                  (else
                    ;; a mixed chunk: byte by byte, a run of one value seen once
                    (local.set $q (local.get $p))
                    (local.set $qEnd (i32.add (local.get $p) (i32.const 16)))
                    (local.set $prev (i32.const 0))
                    (block $bytesDone
                      (loop $bytes
                        (br_if $bytesDone (i32.ge_u (local.get $q) (local.get $qEnd)))
                        (local.set $c (i32.load8_u (local.get $q)))
                        (if (i32.and (i32.ne (local.get $c) (i32.const 0)) (i32.ne (local.get $c) (local.get $prev)))
                          (then (call $see (local.get $c) (local.get $y) (local.get $first) (local.get $last))))
                        (local.set $prev (local.get $c))
                        (local.set $q (i32.add (local.get $q) (i32.const 1)))
                        (br $bytes)))))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $chunks)))
        ;; the bytes after the last whole chunk
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $c (i32.load8_u (local.get $p)))
            (if (local.get $c)
              (then (call $see (local.get $c) (local.get $y) (local.get $first) (local.get $last))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $tail)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $rows)))
  )

  ;; Dilation by a disk of radius r of packed rows (stride words per row, bit i of word k = pixel
  ;; 32k + i): src holds rows from..to (row y at src + (y - from) * stride * 4); out receives rows
  ;; max(0, from - r) .. min(height - 1, to + r) the same way (zeroed here first); half: i32[2r + 1],
  ;; the disk's half-width at dy + r. scratch: (r + 1) levels of stride + 8 words. Bits past the last
  ;; column are left for the host to clear.
  (func (export "dilate")
    (param $src i32) (param $out i32) (param $stride i32) (param $from i32) (param $to i32) (param $height i32)
    (param $r i32) (param $half i32) (param $scratch i32)
    (local $outFrom i32) (local $outTo i32) (local $rowBytes i32) (local $level i32) (local $reach i32)
    (local $y i32) (local $row i32) (local $k i32) (local $lo i32) (local $hi i32) (local $h i32)
    (local $s i32) (local $t i32) (local $yy i32) (local $y0 i32) (local $y1 i32) (local $d i32) (local $lastK i32)
    (local $v v128)
    (local.set $outFrom (select (i32.sub (local.get $from) (local.get $r)) (i32.const 0) (i32.gt_s (i32.sub (local.get $from) (local.get $r)) (i32.const 0))))
    (local.set $outTo (select (i32.add (local.get $to) (local.get $r)) (i32.sub (local.get $height) (i32.const 1)) (i32.lt_s (i32.add (local.get $to) (local.get $r)) (i32.sub (local.get $height) (i32.const 1)))))
    (local.set $rowBytes (i32.shl (local.get $stride) (i32.const 2)))
    ;; a level's words at scratch + level * (stride + 8) * 4 + 16: four guard words before
    (local.set $level (i32.shl (i32.add (local.get $stride) (i32.const 8)) (i32.const 2)))
    (local.set $reach (i32.shr_u (i32.add (local.get $r) (i32.const 31)) (i32.const 5)))
    (local.set $lastK (i32.sub (local.get $stride) (i32.const 1)))
    (memory.fill (local.get $out) (i32.const 0)
      (i32.mul (i32.add (i32.sub (local.get $outTo) (local.get $outFrom)) (i32.const 1)) (local.get $rowBytes)))
    (memory.fill (local.get $scratch) (i32.const 0) (i32.mul (i32.add (local.get $r) (i32.const 1)) (local.get $level)))
    (local.set $y (local.get $from))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.gt_s (local.get $y) (local.get $to)))
        (local.set $row (i32.add (local.get $src) (i32.mul (i32.sub (local.get $y) (local.get $from)) (local.get $rowBytes))))
        ;; the row's first and last non-zero words
        (local.set $lo (i32.const -1))
        (local.set $hi (i32.const -1))
        (local.set $k (i32.const 0))
        (block $scanDone
          (loop $scan
            (br_if $scanDone (i32.ge_s (local.get $k) (local.get $stride)))
            (if (i32.load (i32.add (local.get $row) (i32.shl (local.get $k) (i32.const 2))))
              (then
                (if (i32.lt_s (local.get $lo) (i32.const 0)) (then (local.set $lo (local.get $k))))
                (local.set $hi (local.get $k))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $scan)))
        (if (i32.ge_s (local.get $lo) (i32.const 0))
          (then
            ;; widened by the words the dilation can reach
            (local.set $lo (select (i32.sub (local.get $lo) (local.get $reach)) (i32.const 0) (i32.gt_s (i32.sub (local.get $lo) (local.get $reach)) (i32.const 0))))
            (local.set $hi (select (i32.add (local.get $hi) (local.get $reach)) (local.get $lastK) (i32.lt_s (i32.add (local.get $hi) (local.get $reach)) (local.get $lastK))))
            ;; level 0: the row itself (words lo..hi; the guard words around stay zero)
            (memory.copy
              (i32.add (i32.add (local.get $scratch) (i32.const 16)) (i32.shl (local.get $lo) (i32.const 2)))
              (i32.add (local.get $row) (i32.shl (local.get $lo) (i32.const 2)))
              (i32.shl (i32.add (i32.sub (local.get $hi) (local.get $lo)) (i32.const 1)) (i32.const 2)))
            (i32.store (i32.add (i32.add (local.get $scratch) (i32.const 12)) (i32.shl (local.get $lo) (i32.const 2))) (i32.const 0))
            (i64.store (i32.add (i32.add (local.get $scratch) (i32.const 20)) (i32.shl (local.get $hi) (i32.const 2))) (i64.const 0))
            (i64.store (i32.add (i32.add (local.get $scratch) (i32.const 28)) (i32.shl (local.get $hi) (i32.const 2))) (i64.const 0))
            ;; level h from level h - 1: each word ORed with itself shifted one pixel both ways
            (local.set $h (i32.const 1))
            (block $levelsDone
              (loop $levels
                (br_if $levelsDone (i32.gt_s (local.get $h) (local.get $r)))
                (local.set $s (i32.add (i32.add (local.get $scratch) (i32.const 16)) (i32.mul (i32.sub (local.get $h) (i32.const 1)) (local.get $level))))
                (local.set $t (i32.add (local.get $s) (local.get $level)))
                (local.set $k (local.get $lo))
                (block $wordsDone
                  (loop $words
                    (br_if $wordsDone (i32.gt_s (local.get $k) (local.get $hi)))
                    (local.set $d (i32.shl (local.get $k) (i32.const 2)))
                    (local.set $v (v128.load (i32.add (local.get $s) (local.get $d))))
                    (v128.store (i32.add (local.get $t) (local.get $d))
                      (v128.or
                        (v128.or
                          (v128.or (local.get $v) (i32x4.shl (local.get $v) (i32.const 1)))
                          (v128.or (i32x4.shr_u (local.get $v) (i32.const 1))
                            (i32x4.shr_u (v128.load (i32.sub (i32.add (local.get $s) (local.get $d)) (i32.const 4))) (i32.const 31))))
                        (i32x4.shl (v128.load (i32.add (i32.add (local.get $s) (local.get $d)) (i32.const 4))) (i32.const 31))))
                    (local.set $k (i32.add (local.get $k) (i32.const 4)))
                    (br $words)))
                ;; the words past hi written by the last group of four go back to zero (the JS loop
                ;; treats them as zero), and so does the guard word before lo
                (i32.store (i32.sub (i32.add (local.get $t) (i32.shl (local.get $lo) (i32.const 2))) (i32.const 4)) (i32.const 0))
                (i64.store (i32.add (i32.add (local.get $t) (i32.const 4)) (i32.shl (local.get $hi) (i32.const 2))) (i64.const 0))
                (i64.store (i32.add (i32.add (local.get $t) (i32.const 12)) (i32.shl (local.get $hi) (i32.const 2))) (i64.const 0))
                (local.set $h (i32.add (local.get $h) (i32.const 1)))
                (br $levels)))
            ;; rows y - r .. y + r (inside the image) OR in the level of the disk's half-width there
            (local.set $y0 (select (i32.sub (local.get $y) (local.get $r)) (i32.const 0) (i32.gt_s (i32.sub (local.get $y) (local.get $r)) (i32.const 0))))
            (local.set $y1 (select (i32.add (local.get $y) (local.get $r)) (i32.sub (local.get $height) (i32.const 1)) (i32.lt_s (i32.add (local.get $y) (local.get $r)) (i32.sub (local.get $height) (i32.const 1)))))
            (local.set $yy (local.get $y0))
            (block $orDone
              (loop $ors
                (br_if $orDone (i32.gt_s (local.get $yy) (local.get $y1)))
                (local.set $s
                  (i32.add (i32.add (local.get $scratch) (i32.const 16))
                    (i32.mul
                      (i32.load (i32.add (local.get $half) (i32.shl (i32.add (i32.sub (local.get $yy) (local.get $y)) (local.get $r)) (i32.const 2))))
                      (local.get $level))))
                (local.set $t (i32.add (local.get $out) (i32.mul (i32.sub (local.get $yy) (local.get $outFrom)) (local.get $rowBytes))))
                (local.set $k (local.get $lo))
                (block $orWordsDone
                  (loop $orWords
                    (br_if $orWordsDone (i32.gt_s (local.get $k) (local.get $hi)))
                    (local.set $d (i32.shl (local.get $k) (i32.const 2)))
                    ;; four words at a time; those past hi are zero, ORing them changes nothing
                    (v128.store (i32.add (local.get $t) (local.get $d))
                      (v128.or (v128.load (i32.add (local.get $t) (local.get $d))) (v128.load (i32.add (local.get $s) (local.get $d)))))
                    (local.set $k (i32.add (local.get $k) (i32.const 4)))
                    (br $orWords)))
                (local.set $yy (i32.add (local.get $yy) (i32.const 1)))
                (br $ors)))))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $rows)))
  )
)
