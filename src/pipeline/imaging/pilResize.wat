;; Pillow's default RGB resize (BICUBIC, 22-bit fixed point, horizontal pass then vertical pass) in
;; WebAssembly SIMD, in two forms: fused with SAM 2's float32 normalisation (horizontal, vertical), and
;; to 8-bit interleaved RGB for frame-grid tiles (horizontal_rgb, vertical_u8). The arithmetic is that
;; of test/tooling/pilResizeReference.ts (the readable reference, bit-exact against stored Pillow
;; outputs; coefficients from pilResize.ts) lane by lane:
;; - horizontal pass: one output pixel at a time, its R, G and B in three i32 lanes of one v128
;;   (a 4-byte load at each tap; the fourth lane is unused), clip8 as shr 22 then clamp to 0..255,
;;   written to three 8-bit planes ("mid", rows x outW each), or interleaved for horizontal_rgb;
;; - vertical pass: 16 output values of one plane at a time (four i32x4 accumulators), then clip8 and
;;   ((v / 255) - mean) / std in float32 (IEEE-exact f32x4 div/sub: the same bits as the host's float32
;;   table), written planar [3, outH, outW] as float32; that expression is written out at each use
;;   because V8 does not inline calls between wasm functions. vertical_u8 filters the interleaved
;;   rows 16 bytes at a time (every byte of a row takes the same weights) and writes clip8 bytes.
;; All pointers are byte offsets into the exported memory; the host lays the buffers out and grows it.
;; Assembled by tools/gen-wasm.ts into pilResize.wasm.ts (do not edit that file).
(module
  (memory (export "memory") 1)

  ;; src: interleaved RGB rows; rows [rowOffset, rowOffset + rows) are resized to outW into the planes
  ;; at mid (plane c at mid + c * rows * outW). first/count: i32 per output x; weights: taps i32 per x.
  (func (export "horizontal")
    (param $src i32) (param $width i32) (param $rowOffset i32) (param $rows i32)
    (param $first i32) (param $count i32) (param $weights i32) (param $taps i32)
    (param $outW i32) (param $mid i32)
    (local $plane i32) (local $tapBytes i32) (local $inStride i32) (local $inRow i32)
    (local $y i32) (local $x i32) (local $k i32) (local $n i32) (local $p i32) (local $wp i32) (local $o i32)
    (local $acc v128)
    (local.set $plane (i32.mul (local.get $rows) (local.get $outW)))
    (local.set $tapBytes (i32.shl (local.get $taps) (i32.const 2)))
    (local.set $inStride (i32.mul (local.get $width) (i32.const 3)))
    (local.set $y (i32.const 0))
    (block $yDone
      (loop $yLoop
        (br_if $yDone (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $inRow
          (i32.add (local.get $src) (i32.mul (i32.add (local.get $y) (local.get $rowOffset)) (local.get $inStride))))
        (local.set $o (i32.add (local.get $mid) (i32.mul (local.get $y) (local.get $outW))))
        (local.set $x (i32.const 0))
        (block $xDone
          (loop $xLoop
            (br_if $xDone (i32.ge_u (local.get $x) (local.get $outW)))
            (local.set $n (i32.load (i32.add (local.get $count) (i32.shl (local.get $x) (i32.const 2)))))
            (local.set $p
              (i32.add (local.get $inRow)
                (i32.mul (i32.load (i32.add (local.get $first) (i32.shl (local.get $x) (i32.const 2)))) (i32.const 3))))
            (local.set $wp (i32.add (local.get $weights) (i32.mul (local.get $x) (local.get $tapBytes))))
            ;; the rounding half, 2^21
            (local.set $acc (v128.const i32x4 2097152 2097152 2097152 2097152))
            (local.set $k (i32.const 0))
            (block $kDone
              (loop $kLoop
                (br_if $kDone (i32.ge_u (local.get $k) (local.get $n)))
                (local.set $acc
                  (i32x4.add (local.get $acc)
                    (i32x4.mul
                      (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero (local.get $p))))
                      (i32x4.splat (i32.load (local.get $wp))))))
                (local.set $p (i32.add (local.get $p) (i32.const 3)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kLoop)))
            ;; clip8: v >= 255 << 22 -> 255, v <= 0 -> 0, else v >> 22
            (local.set $acc
              (i32x4.min_s
                (i32x4.max_s (i32x4.shr_s (local.get $acc) (i32.const 22)) (v128.const i32x4 0 0 0 0))
                (v128.const i32x4 255 255 255 255)))
            (i32.store8 (local.get $o) (i32x4.extract_lane 0 (local.get $acc)))
            (i32.store8 (i32.add (local.get $o) (local.get $plane)) (i32x4.extract_lane 1 (local.get $acc)))
            (i32.store8 (i32.add (local.get $o) (i32.shl (local.get $plane) (i32.const 1))) (i32x4.extract_lane 2 (local.get $acc)))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $xLoop)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yLoop)))
  )

  ;; mid: three 8-bit planes of rows x outW (row 0 is source row rowOffset); out: float32 [3, outH, outW];
  ;; norm: six float32, the means then the standard deviations of R, G, B.
  (func (export "vertical")
    (param $mid i32) (param $outW i32) (param $rowOffset i32) (param $rows i32)
    (param $first i32) (param $count i32) (param $weights i32) (param $taps i32)
    (param $outH i32) (param $out i32) (param $norm i32)
    (local $planeMid i32) (local $tapBytes i32) (local $c i32) (local $y i32) (local $x i32) (local $k i32)
    (local $n i32) (local $base i32) (local $wp0 i32) (local $wp i32) (local $s i32) (local $o i32) (local $sum i32)
    (local $mean v128) (local $std v128) (local $meanS f32) (local $stdS f32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $v v128) (local $lo v128) (local $hi v128) (local $w v128)
    (local.set $planeMid (i32.mul (local.get $rows) (local.get $outW)))
    (local.set $tapBytes (i32.shl (local.get $taps) (i32.const 2)))
    (local.set $o (local.get $out))
    (local.set $c (i32.const 0))
    (block $cDone
      (loop $cLoop
        (br_if $cDone (i32.ge_u (local.get $c) (i32.const 3)))
        (local.set $meanS (f32.load (i32.add (local.get $norm) (i32.shl (local.get $c) (i32.const 2)))))
        (local.set $stdS (f32.load (i32.add (local.get $norm) (i32.add (i32.const 12) (i32.shl (local.get $c) (i32.const 2))))))
        (local.set $mean (f32x4.splat (local.get $meanS)))
        (local.set $std (f32x4.splat (local.get $stdS)))
        (local.set $y (i32.const 0))
        (block $yDone
          (loop $yLoop
            (br_if $yDone (i32.ge_u (local.get $y) (local.get $outH)))
            (local.set $n (i32.load (i32.add (local.get $count) (i32.shl (local.get $y) (i32.const 2)))))
            (local.set $base
              (i32.add
                (i32.add (local.get $mid) (i32.mul (local.get $c) (local.get $planeMid)))
                (i32.mul
                  (i32.sub (i32.load (i32.add (local.get $first) (i32.shl (local.get $y) (i32.const 2)))) (local.get $rowOffset))
                  (local.get $outW))))
            (local.set $wp0 (i32.add (local.get $weights) (i32.mul (local.get $y) (local.get $tapBytes))))
            (local.set $x (i32.const 0))
            ;; 16 values at a time
            (block $xDone
              (loop $xLoop
                (br_if $xDone (i32.gt_u (i32.add (local.get $x) (i32.const 16)) (local.get $outW)))
                (local.set $a0 (v128.const i32x4 2097152 2097152 2097152 2097152))
                (local.set $a1 (local.get $a0))
                (local.set $a2 (local.get $a0))
                (local.set $a3 (local.get $a0))
                (local.set $s (i32.add (local.get $base) (local.get $x)))
                (local.set $wp (local.get $wp0))
                (local.set $k (i32.const 0))
                (block $kDone
                  (loop $kLoop
                    (br_if $kDone (i32.ge_u (local.get $k) (local.get $n)))
                    (local.set $v (v128.load (local.get $s)))
                    (local.set $w (i32x4.splat (i32.load (local.get $wp))))
                    (local.set $lo (i16x8.extend_low_i8x16_u (local.get $v)))
                    (local.set $hi (i16x8.extend_high_i8x16_u (local.get $v)))
                    (local.set $a0 (i32x4.add (local.get $a0) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $lo)) (local.get $w))))
                    (local.set $a1 (i32x4.add (local.get $a1) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $lo)) (local.get $w))))
                    (local.set $a2 (i32x4.add (local.get $a2) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $hi)) (local.get $w))))
                    (local.set $a3 (i32x4.add (local.get $a3) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $hi)) (local.get $w))))
                    (local.set $s (i32.add (local.get $s) (local.get $outW)))
                    (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
                    (local.set $k (i32.add (local.get $k) (i32.const 1)))
                    (br $kLoop)))
                (v128.store (local.get $o) (f32x4.div
                    (f32x4.sub
                      (f32x4.div
                        (f32x4.convert_i32x4_s
                          (i32x4.min_s
                            (i32x4.max_s (i32x4.shr_s (local.get $a0) (i32.const 22)) (v128.const i32x4 0 0 0 0))
                            (v128.const i32x4 255 255 255 255)))
                        (v128.const f32x4 255 255 255 255))
                      (local.get $mean))
                    (local.get $std)))
                (v128.store offset=16 (local.get $o) (f32x4.div
                    (f32x4.sub
                      (f32x4.div
                        (f32x4.convert_i32x4_s
                          (i32x4.min_s
                            (i32x4.max_s (i32x4.shr_s (local.get $a1) (i32.const 22)) (v128.const i32x4 0 0 0 0))
                            (v128.const i32x4 255 255 255 255)))
                        (v128.const f32x4 255 255 255 255))
                      (local.get $mean))
                    (local.get $std)))
                (v128.store offset=32 (local.get $o) (f32x4.div
                    (f32x4.sub
                      (f32x4.div
                        (f32x4.convert_i32x4_s
                          (i32x4.min_s
                            (i32x4.max_s (i32x4.shr_s (local.get $a2) (i32.const 22)) (v128.const i32x4 0 0 0 0))
                            (v128.const i32x4 255 255 255 255)))
                        (v128.const f32x4 255 255 255 255))
                      (local.get $mean))
                    (local.get $std)))
                (v128.store offset=48 (local.get $o) (f32x4.div
                    (f32x4.sub
                      (f32x4.div
                        (f32x4.convert_i32x4_s
                          (i32x4.min_s
                            (i32x4.max_s (i32x4.shr_s (local.get $a3) (i32.const 22)) (v128.const i32x4 0 0 0 0))
                            (v128.const i32x4 255 255 255 255)))
                        (v128.const f32x4 255 255 255 255))
                      (local.get $mean))
                    (local.get $std)))
                (local.set $o (i32.add (local.get $o) (i32.const 64)))
                (local.set $x (i32.add (local.get $x) (i32.const 16)))
                (br $xLoop)))
            ;; the rest of the row, one value at a time
            (block $tDone
              (loop $tLoop
                (br_if $tDone (i32.ge_u (local.get $x) (local.get $outW)))
                (local.set $sum (i32.const 2097152))
                (local.set $s (i32.add (local.get $base) (local.get $x)))
                (local.set $wp (local.get $wp0))
                (local.set $k (i32.const 0))
                (block $kDone2
                  (loop $kLoop2
                    (br_if $kDone2 (i32.ge_u (local.get $k) (local.get $n)))
                    (local.set $sum (i32.add (local.get $sum) (i32.mul (i32.load8_u (local.get $s)) (i32.load (local.get $wp)))))
                    (local.set $s (i32.add (local.get $s) (local.get $outW)))
                    (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
                    (local.set $k (i32.add (local.get $k) (i32.const 1)))
                    (br $kLoop2)))
                (f32.store (local.get $o)
                  (f32x4.extract_lane 0 (f32x4.div
                    (f32x4.sub
                      (f32x4.div
                        (f32x4.convert_i32x4_s
                          (i32x4.min_s
                            (i32x4.max_s (i32x4.shr_s (i32x4.splat (local.get $sum)) (i32.const 22)) (v128.const i32x4 0 0 0 0))
                            (v128.const i32x4 255 255 255 255)))
                        (v128.const f32x4 255 255 255 255))
                      (local.get $mean))
                    (local.get $std))))
                (local.set $o (i32.add (local.get $o) (i32.const 4)))
                (local.set $x (i32.add (local.get $x) (i32.const 1)))
                (br $tLoop)))
            (local.set $y (i32.add (local.get $y) (i32.const 1)))
            (br $yLoop)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $cLoop)))
  )

  ;; The horizontal pass with interleaved output: rows of outW RGB pixels (3 * outW bytes) at mid. Each
  ;; pixel is written as one 4-byte store whose fourth byte the next pixel overwrites (the last pixel's
  ;; lands in the row after, or in the padding behind the buffer). A tap reads 8 bytes (widened to
  ;; 16-bit lanes in one load): the padding behind the source covers the 5 past its last pixel.
  (func (export "horizontal_rgb")
    (param $src i32) (param $width i32) (param $rowOffset i32) (param $rows i32)
    (param $first i32) (param $count i32) (param $weights i32) (param $taps i32)
    (param $outW i32) (param $mid i32)
    (local $tapBytes i32) (local $inStride i32) (local $inRow i32)
    (local $y i32) (local $x i32) (local $k i32) (local $n i32) (local $p i32) (local $wp i32) (local $o i32)
    (local $acc v128)
    (local.set $tapBytes (i32.shl (local.get $taps) (i32.const 2)))
    (local.set $inStride (i32.mul (local.get $width) (i32.const 3)))
    (local.set $o (local.get $mid))
    (local.set $y (i32.const 0))
    (block $yDone
      (loop $yLoop
        (br_if $yDone (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $inRow
          (i32.add (local.get $src) (i32.mul (i32.add (local.get $y) (local.get $rowOffset)) (local.get $inStride))))
        (local.set $x (i32.const 0))
        (block $xDone
          (loop $xLoop
            (br_if $xDone (i32.ge_u (local.get $x) (local.get $outW)))
            (local.set $n (i32.load (i32.add (local.get $count) (i32.shl (local.get $x) (i32.const 2)))))
            (local.set $p
              (i32.add (local.get $inRow)
                (i32.mul (i32.load (i32.add (local.get $first) (i32.shl (local.get $x) (i32.const 2)))) (i32.const 3))))
            (local.set $wp (i32.add (local.get $weights) (i32.mul (local.get $x) (local.get $tapBytes))))
            (local.set $acc (v128.const i32x4 2097152 2097152 2097152 2097152))
            (local.set $k (i32.const 0))
            (block $kDone
              (loop $kLoop
                (br_if $kDone (i32.ge_u (local.get $k) (local.get $n)))
                (local.set $acc
                  (i32x4.add (local.get $acc)
                    (i32x4.mul
                      (i32x4.extend_low_i16x8_u (v128.load8x8_u (local.get $p)))
                      (v128.load32_splat (local.get $wp)))))
                (local.set $p (i32.add (local.get $p) (i32.const 3)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kLoop)))
            ;; clip8 (values end in 0..255, so the saturating narrowings keep them), then one 4-byte store
            (local.set $acc (i32x4.shr_s (local.get $acc) (i32.const 22)))
            (local.set $acc (i16x8.narrow_i32x4_s (local.get $acc) (local.get $acc)))
            (i32.store (local.get $o) (i32x4.extract_lane 0 (i8x16.narrow_i16x8_u (local.get $acc) (local.get $acc))))
            (local.set $o (i32.add (local.get $o) (i32.const 3)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $xLoop)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yLoop)))
  )

  ;; The vertical pass over byte rows of rowBytes (the interleaved rows of horizontal_rgb: every byte is
  ;; filtered alike), clip8, written as bytes: outH rows of rowBytes at out, outStride bytes apart.
  (func (export "vertical_u8")
    (param $mid i32) (param $rowBytes i32) (param $rowOffset i32)
    (param $first i32) (param $count i32) (param $weights i32) (param $taps i32)
    (param $outH i32) (param $out i32) (param $outStride i32)
    (local $tapBytes i32) (local $y i32) (local $x i32) (local $k i32)
    (local $n i32) (local $base i32) (local $wp0 i32) (local $wp i32) (local $s i32) (local $o i32) (local $sum i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $v v128) (local $lo v128) (local $hi v128) (local $w v128)
    (local.set $tapBytes (i32.shl (local.get $taps) (i32.const 2)))
    (local.set $y (i32.const 0))
    (block $yDone
      (loop $yLoop
        (br_if $yDone (i32.ge_u (local.get $y) (local.get $outH)))
        (local.set $n (i32.load (i32.add (local.get $count) (i32.shl (local.get $y) (i32.const 2)))))
        (local.set $base
          (i32.add (local.get $mid)
            (i32.mul
              (i32.sub (i32.load (i32.add (local.get $first) (i32.shl (local.get $y) (i32.const 2)))) (local.get $rowOffset))
              (local.get $rowBytes))))
        (local.set $wp0 (i32.add (local.get $weights) (i32.mul (local.get $y) (local.get $tapBytes))))
        (local.set $o (i32.add (local.get $out) (i32.mul (local.get $y) (local.get $outStride))))
        (local.set $x (i32.const 0))
        (block $xDone
          (loop $xLoop
            (br_if $xDone (i32.gt_u (i32.add (local.get $x) (i32.const 16)) (local.get $rowBytes)))
            (local.set $a0 (v128.const i32x4 2097152 2097152 2097152 2097152))
            (local.set $a1 (local.get $a0))
            (local.set $a2 (local.get $a0))
            (local.set $a3 (local.get $a0))
            (local.set $s (i32.add (local.get $base) (local.get $x)))
            (local.set $wp (local.get $wp0))
            (local.set $k (i32.const 0))
            (block $kDone
              (loop $kLoop
                (br_if $kDone (i32.ge_u (local.get $k) (local.get $n)))
                (local.set $v (v128.load (local.get $s)))
                (local.set $w (i32x4.splat (i32.load (local.get $wp))))
                (local.set $lo (i16x8.extend_low_i8x16_u (local.get $v)))
                (local.set $hi (i16x8.extend_high_i8x16_u (local.get $v)))
                (local.set $a0 (i32x4.add (local.get $a0) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $lo)) (local.get $w))))
                (local.set $a1 (i32x4.add (local.get $a1) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $lo)) (local.get $w))))
                (local.set $a2 (i32x4.add (local.get $a2) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $hi)) (local.get $w))))
                (local.set $a3 (i32x4.add (local.get $a3) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $hi)) (local.get $w))))
                (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kLoop)))
            ;; clip8: the arithmetic shift, then the saturating narrowings clamp to 0..255
            (v128.store (local.get $o)
              (i8x16.narrow_i16x8_u
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a0) (i32.const 22)) (i32x4.shr_s (local.get $a1) (i32.const 22)))
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a2) (i32.const 22)) (i32x4.shr_s (local.get $a3) (i32.const 22)))))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (br $xLoop)))
        ;; the rest of the row, one byte at a time
        (block $tDone
          (loop $tLoop
            (br_if $tDone (i32.ge_u (local.get $x) (local.get $rowBytes)))
            (local.set $sum (i32.const 2097152))
            (local.set $s (i32.add (local.get $base) (local.get $x)))
            (local.set $wp (local.get $wp0))
            (local.set $k (i32.const 0))
            (block $kDone2
              (loop $kLoop2
                (br_if $kDone2 (i32.ge_u (local.get $k) (local.get $n)))
                (local.set $sum (i32.add (local.get $sum) (i32.mul (i32.load8_u (local.get $s)) (i32.load (local.get $wp)))))
                (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kLoop2)))
            (local.set $sum (i32.shr_s (local.get $sum) (i32.const 22)))
            (i32.store8 (local.get $o)
              (select (i32.const 0)
                (select (i32.const 255) (local.get $sum) (i32.gt_s (local.get $sum) (i32.const 255)))
                (i32.lt_s (local.get $sum) (i32.const 0))))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $tLoop)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yLoop)))
  )
)
