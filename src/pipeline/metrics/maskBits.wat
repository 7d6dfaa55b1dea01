;; The two byte-scanning kernels of the J and F metrics in WebAssembly SIMD, 16 pixels per step
;; (maskMetrics.ts keeps the reference in JavaScript and calls these for large images):
;; - bits: one bit per pixel (bit i of word k = pixel 32k + i), selected when the byte is non-zero or,
;;   in "equal" mode, equal to a value: i8x16.eq / ne, then i8x16.bitmask gives 16 bits at once;
;; - label_rows: the first and last row holding each label value 1..255, skipping background chunks
;;   (v128.any_true) and one-label chunks (all 16 bytes equal) whole.
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
)
