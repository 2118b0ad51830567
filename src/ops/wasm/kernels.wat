;; gradstream's WebAssembly SIMD128 kernels (assembled by src/ops/wasm/assemble.ts into
;; kernels.wasm.ts; the TypeScript twins are src/ops/gemm.ts and src/ops/conv2d.ts, the
;; wrappers that lay out memory and call these are gemm-simd.ts and conv2d-simd.ts).
;;
;; Plain SIMD128 only: f32x4.mul then f32x4.add, each rounded to float32 (no FMA, no
;; relaxed-simd), so every lane computes the same bits on every machine.
;;
;; Memory: bytes 0..255 are this module's own scratch (the edge tile below); the caller
;; owns everything above and places operands there. Every pointer is a byte address.

(module
  (memory (export "mem") 16)

  ;; ---- gathered matrix product over one slab of the reduction ------------------------
  ;;
  ;;   s[i, j] = sum_{k < kc} A(i, k) * Bp(k, j)               (k ascending, float32 chain:
  ;;                                                             s = fl(s + fl(a * b)), s0 = 0)
  ;;   C[i, j] = s[i, j]             when acc = 0
  ;;   C[i, j] = fl(C[i, j] + s)     when acc = 1               for i < M, j < N
  ;;
  ;; A(i, k) = f32 at src + rs[i] + cs[k]: rs [M] and cs [kc] are i32 byte offsets. That one
  ;; form is a row-major A (rs[i] = 4iK, cs[k] = 4k), a transposed one (rs[i] = 4i,
  ;; cs[k] = 4kM), the im2col matrix of a convolution read in place (rs = window corners,
  ;; cs = tap offsets: conv2d-simd.ts) and its transpose (the kernel gradient).
  ;; Bp: op(B)[kc, N] in 8-column panels: panel p at bp + p pstride, row k of it at
  ;; + k ldb (8 floats, two f32x4). Packed panels have ldb = 32, pstride = 32 kc; a row-major
  ;; B [kc, N] read in place has ldb = 4N, pstride = 32 (lanes past N read whatever follows:
  ;; they only feed columns that are never stored).
  ;; C: row-major, ldc bytes per row.
  ;;
  ;; The register tile is 4 rows x 8 columns: eight f32x4 accumulators; each k loads the
  ;; four A values into one vector, and unless all four are zero, two f32x4 of Bp, then
  ;; broadcasts each A lane for 32 multiply-adds. Rows past M repeat row
  ;; M-1 (computed, never stored); columns past N multiply the panel's zero padding.
  ;;
  ;; packed = 1: A was laid out by `pack4` below (src its address; cs unused, rs still read,
  ;; so pass the one pack4 used): the four
  ;; A values of a row block at k are one aligned v128 load instead of four gathered lane
  ;; loads repeated for every 8-column panel. The values and their order are the same, so
  ;; are the bits. packed = 2: the same, for a slab in which pack4 found no block of four
  ;; zeros: the zero test could never skip a step there, so leaving it out changes nothing.
  (func $mm (export "mm")
    (param $c i32) (param $ldc i32) (param $src i32) (param $rs i32) (param $cs i32)
    (param $bp i32) (param $ldb i32) (param $pstride i32)
    (param $M i32) (param $N i32) (param $kc i32) (param $acc i32) (param $packed i32)
    (local $i0 i32) (local $j0 i32) (local $k i32) (local $off i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $b i32) (local $bpanel i32) (local $cp i32) (local $ct i32) (local $h i32) (local $w i32)
    (local $x i32) (local $y i32)
    (local $b0 v128) (local $b1 v128) (local $a v128) (local $s v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $i0 (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_s (local.get $i0) (local.get $M)))
        ;; h = min(4, M - i0) rows are real; window r_l = src + rs[min(i0 + l, M - 1)]
        (local.set $h (i32.sub (local.get $M) (local.get $i0)))
        (if (i32.gt_s (local.get $h) (i32.const 4)) (then (local.set $h (i32.const 4))))
        (local.set $r0 (i32.add (local.get $src)
          (i32.load (i32.add (local.get $rs) (i32.shl (local.get $i0) (i32.const 2))))))
        (local.set $r1 (i32.add (local.get $src)
          (i32.load (i32.add (local.get $rs) (i32.shl
            (select (i32.add (local.get $i0) (i32.const 1)) (local.get $i0) (i32.gt_s (local.get $h) (i32.const 1)))
            (i32.const 2))))))
        (local.set $r2 (i32.add (local.get $src)
          (i32.load (i32.add (local.get $rs) (i32.shl
            (i32.add (local.get $i0) (select (i32.const 2) (i32.sub (local.get $h) (i32.const 1)) (i32.gt_s (local.get $h) (i32.const 2))))
            (i32.const 2))))))
        (local.set $r3 (i32.add (local.get $src)
          (i32.load (i32.add (local.get $rs) (i32.shl
            (i32.add (local.get $i0) (i32.sub (local.get $h) (i32.const 1)))
            (i32.const 2))))))
        (local.set $j0 (i32.const 0))
        (local.set $bpanel (local.get $bp))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_s (local.get $j0) (local.get $N)))
            (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))
            (local.set $c10 (v128.const i32x4 0 0 0 0)) (local.set $c11 (v128.const i32x4 0 0 0 0))
            (local.set $c20 (v128.const i32x4 0 0 0 0)) (local.set $c21 (v128.const i32x4 0 0 0 0))
            (local.set $c30 (v128.const i32x4 0 0 0 0)) (local.set $c31 (v128.const i32x4 0 0 0 0))
            ;; the micro-kernel: c[l] += A(i0 + l, k) * Bp(k, j0:j0+8), k = 0 .. kc-1
            (local.set $k (local.get $kc))
            ;; cp walks cs (4 bytes per k), or the packed block (16 bytes per k)
            (local.set $cp (select
              (i32.add (local.get $src) (i32.mul (i32.shl (local.get $i0) (i32.const 2)) (local.get $kc)))
              (local.get $cs) (local.get $packed)))
            (local.set $b (local.get $bpanel))
            (if (i32.eq (local.get $packed) (i32.const 2))
              (then
                ;; packed, and pack4 found no all-zero block: no zero test, and each A value
                ;; broadcast straight from memory (load32_splat) instead of a shuffle
                (block $dk_done
                  (loop $dks
                    (br_if $dk_done (i32.eqz (local.get $k)))
                    (local.set $b0 (v128.load (local.get $b)))
                    (local.set $b1 (v128.load offset=16 (local.get $b)))
                    (local.set $s (v128.load32_splat (local.get $cp)))
                    (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $b0))))
                    (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $b1))))
                    (local.set $s (v128.load32_splat offset=4 (local.get $cp)))
                    (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $b0))))
                    (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $b1))))
                    (local.set $s (v128.load32_splat offset=8 (local.get $cp)))
                    (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $b0))))
                    (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $b1))))
                    (local.set $s (v128.load32_splat offset=12 (local.get $cp)))
                    (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $s) (local.get $b0))))
                    (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $s) (local.get $b1))))
                    (local.set $b (i32.add (local.get $b) (local.get $ldb)))
                    (local.set $cp (i32.add (local.get $cp) (i32.const 16)))
                    (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                    (br $dks)))))
            (if (i32.eq (local.get $packed) (i32.const 1))
              (then
                (block $pk_done
                  (loop $pks
                    (br_if $pk_done (i32.eqz (local.get $k)))
                    (local.set $a (v128.load (local.get $cp)))
                    (if (v128.any_true (local.get $a))
                      (then
                        (local.set $b0 (v128.load (local.get $b)))
                        (local.set $b1 (v128.load offset=16 (local.get $b)))
                        (local.set $s (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $a) (local.get $a)))
                        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $b0))))
                        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $b1))))
                        (local.set $s (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $a) (local.get $a)))
                        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $b0))))
                        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $b1))))
                        (local.set $s (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $a) (local.get $a)))
                        (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $b0))))
                        (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $b1))))
                        (local.set $s (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $a) (local.get $a)))
                        (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $s) (local.get $b0))))
                        (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $s) (local.get $b1))))))
                    (local.set $b (i32.add (local.get $b) (local.get $ldb)))
                    (local.set $cp (i32.add (local.get $cp) (i32.const 16)))
                    (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                    (br $pks)))))
            (if (i32.eqz (local.get $packed))
              (then
                (block $k_done
                  (loop $ks
                    (br_if $k_done (i32.eqz (local.get $k)))
                    ;; the four A values in the lanes of one vector: when all four are +0
                    ;; (blank pixels, inactive ReLUs) the step adds only zeros (exact for a
                    ;; finite Bp: s + 0 = s, and s is never -0) and is skipped
                    (local.set $off (i32.load (local.get $cp)))
                    (local.set $a (v128.load32_zero (i32.add (local.get $r0) (local.get $off))))
                    (local.set $a (v128.load32_lane 1 (i32.add (local.get $r1) (local.get $off)) (local.get $a)))
                    (local.set $a (v128.load32_lane 2 (i32.add (local.get $r2) (local.get $off)) (local.get $a)))
                    (local.set $a (v128.load32_lane 3 (i32.add (local.get $r3) (local.get $off)) (local.get $a)))
                    (if (v128.any_true (local.get $a))
                      (then
                        (local.set $b0 (v128.load (local.get $b)))
                        (local.set $b1 (v128.load offset=16 (local.get $b)))
                        (local.set $s (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $a) (local.get $a)))
                        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $b0))))
                        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $b1))))
                        (local.set $s (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $a) (local.get $a)))
                        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $b0))))
                        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $b1))))
                        (local.set $s (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $a) (local.get $a)))
                        (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $b0))))
                        (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $b1))))
                        (local.set $s (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $a) (local.get $a)))
                        (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $s) (local.get $b0))))
                        (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $s) (local.get $b1))))))
                    (local.set $b (i32.add (local.get $b) (local.get $ldb)))
                    (local.set $cp (i32.add (local.get $cp) (i32.const 4)))
                    (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                    (br $ks)))))
            ;; store the tile: C row i0 + l, columns j0 .. j0+7
            (local.set $ct (i32.add (local.get $c)
              (i32.add (i32.mul (local.get $i0) (local.get $ldc)) (i32.shl (local.get $j0) (i32.const 2)))))
            (local.set $w (i32.sub (local.get $N) (local.get $j0)))
            (if (i32.and (i32.eq (local.get $h) (i32.const 4)) (i32.ge_s (local.get $w) (i32.const 8)))
              (then
                (if (local.get $acc)
                  (then
                    (local.set $c00 (f32x4.add (v128.load (local.get $ct)) (local.get $c00)))
                    (local.set $c01 (f32x4.add (v128.load offset=16 (local.get $ct)) (local.get $c01)))))
                (v128.store (local.get $ct) (local.get $c00))
                (v128.store offset=16 (local.get $ct) (local.get $c01))
                (local.set $ct (i32.add (local.get $ct) (local.get $ldc)))
                (if (local.get $acc)
                  (then
                    (local.set $c10 (f32x4.add (v128.load (local.get $ct)) (local.get $c10)))
                    (local.set $c11 (f32x4.add (v128.load offset=16 (local.get $ct)) (local.get $c11)))))
                (v128.store (local.get $ct) (local.get $c10))
                (v128.store offset=16 (local.get $ct) (local.get $c11))
                (local.set $ct (i32.add (local.get $ct) (local.get $ldc)))
                (if (local.get $acc)
                  (then
                    (local.set $c20 (f32x4.add (v128.load (local.get $ct)) (local.get $c20)))
                    (local.set $c21 (f32x4.add (v128.load offset=16 (local.get $ct)) (local.get $c21)))))
                (v128.store (local.get $ct) (local.get $c20))
                (v128.store offset=16 (local.get $ct) (local.get $c21))
                (local.set $ct (i32.add (local.get $ct) (local.get $ldc)))
                (if (local.get $acc)
                  (then
                    (local.set $c30 (f32x4.add (v128.load (local.get $ct)) (local.get $c30)))
                    (local.set $c31 (f32x4.add (v128.load offset=16 (local.get $ct)) (local.get $c31)))))
                (v128.store (local.get $ct) (local.get $c30))
                (v128.store offset=16 (local.get $ct) (local.get $c31)))
              (else
                ;; an edge tile: through the scratch tile at address 0 (row l at 32 l),
                ;; then the valid h x min(w, 8) part, one float at a time
                (if (i32.gt_s (local.get $w) (i32.const 8)) (then (local.set $w (i32.const 8))))
                (v128.store offset=0 (i32.const 0) (local.get $c00))
                (v128.store offset=16 (i32.const 0) (local.get $c01))
                (v128.store offset=32 (i32.const 0) (local.get $c10))
                (v128.store offset=48 (i32.const 0) (local.get $c11))
                (v128.store offset=64 (i32.const 0) (local.get $c20))
                (v128.store offset=80 (i32.const 0) (local.get $c21))
                (v128.store offset=96 (i32.const 0) (local.get $c30))
                (v128.store offset=112 (i32.const 0) (local.get $c31))
                (local.set $x (i32.const 0))
                (block $er_done
                  (loop $er
                    (br_if $er_done (i32.ge_s (local.get $x) (local.get $h)))
                    (local.set $y (i32.const 0))
                    (block $ec_done
                      (loop $ec
                        (br_if $ec_done (i32.ge_s (local.get $y) (local.get $w)))
                        (local.set $off (i32.add (local.get $ct) (i32.shl (local.get $y) (i32.const 2))))
                        (f32.store (local.get $off)
                          (if (result f32) (local.get $acc)
                            (then (f32.add (f32.load (local.get $off))
                              (f32.load (i32.shl (i32.add (i32.shl (local.get $x) (i32.const 3)) (local.get $y)) (i32.const 2)))))
                            (else (f32.load (i32.shl (i32.add (i32.shl (local.get $x) (i32.const 3)) (local.get $y)) (i32.const 2))))))
                        (local.set $y (i32.add (local.get $y) (i32.const 1)))
                        (br $ec)))
                    (local.set $ct (i32.add (local.get $ct) (local.get $ldc)))
                    (local.set $x (i32.add (local.get $x) (i32.const 1)))
                    (br $er)))))
            (local.set $j0 (i32.add (local.get $j0) (i32.const 8)))
            (local.set $bpanel (i32.add (local.get $bpanel) (local.get $pstride)))
            (br $cols)))
        (local.set $i0 (i32.add (local.get $i0) (i32.const 4)))
        (br $rows))))

  ;; ---- op(B) into 8-column panels (mm's packed Bp) --------------------------------------
  ;;
  ;;   Bp(p)[k, 0:8] = B[k, 8p : 8p + 8]        k < kc, p < panels (whole panels only)
  ;;
  ;; B: kc rows at src, ldb bytes apart; panel p is written at dst + 32 kc p, row k of it at
  ;; + 32 k (ldb = 32, pstride = 32 kc for mm). A row-major B read in place by mm walks a
  ;; new row (ldb bytes on) at every k of every 4-row block: packed once per slab, the
  ;; panel it walks is 32 kc contiguous bytes instead (fewer cache lines and pages). Only
  ;; copies: the products, and so the bits, are the same. The caller packs a last panel of
  ;; fewer than 8 columns (zero-padded) itself.
  (func $pack8 (export "pack8")
    (param $dst i32) (param $src i32) (param $ldb i32) (param $panels i32) (param $kc i32)
    (local $p i32) (local $k i32) (local $s i32)
    (local.set $p (i32.const 0))
    (block $panels_done
      (loop $panel
        (br_if $panels_done (i32.ge_s (local.get $p) (local.get $panels)))
        (local.set $s (i32.add (local.get $src) (i32.shl (local.get $p) (i32.const 5))))
        (local.set $k (local.get $kc))
        (block $k_done
          (loop $ks
            (br_if $k_done (i32.eqz (local.get $k)))
            (v128.store (local.get $dst) (v128.load (local.get $s)))
            (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $s)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (local.set $s (i32.add (local.get $s) (local.get $ldb)))
            (local.set $k (i32.sub (local.get $k) (i32.const 1)))
            (br $ks)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $panel)))
  )

  ;; ---- A in row blocks of 4, for mm's packed form --------------------------------------
  ;;
  ;;   ap[(g kc + k) 4 + l] = A(min(4g + l, M - 1), k)        g < ceil(M / 4), k < kc, l < 4
  ;;
  ;; A(i, k) = f32 at src + rs[i] + cs[k], as mm reads it (rows past M repeat row M-1, as in
  ;; mm). One gather per value, where mm's gathered form repeats it for every 8-column panel.
  ;; Returns how many of the blocks written are four zeros (mm's packed = 2 needs none).
  (func $pack4 (export "pack4")
    (param $ap i32) (param $src i32) (param $rs i32) (param $cs i32) (param $M i32) (param $kc i32) (result i32)
    (local $i0 i32) (local $h i32) (local $k i32) (local $cp i32) (local $off i32) (local $zeros i32) (local $v v128)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local.set $i0 (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_s (local.get $i0) (local.get $M)))
        (local.set $h (i32.sub (local.get $M) (local.get $i0)))
        (if (i32.gt_s (local.get $h) (i32.const 4)) (then (local.set $h (i32.const 4))))
        (local.set $r0 (i32.add (local.get $src) (i32.load (i32.add (local.get $rs) (i32.shl (local.get $i0) (i32.const 2))))))
        (local.set $r1 (i32.add (local.get $src) (i32.load (i32.add (local.get $rs) (i32.shl
          (i32.add (local.get $i0) (select (i32.const 1) (i32.sub (local.get $h) (i32.const 1)) (i32.gt_s (local.get $h) (i32.const 1))))
          (i32.const 2))))))
        (local.set $r2 (i32.add (local.get $src) (i32.load (i32.add (local.get $rs) (i32.shl
          (i32.add (local.get $i0) (select (i32.const 2) (i32.sub (local.get $h) (i32.const 1)) (i32.gt_s (local.get $h) (i32.const 2))))
          (i32.const 2))))))
        (local.set $r3 (i32.add (local.get $src) (i32.load (i32.add (local.get $rs) (i32.shl
          (i32.add (local.get $i0) (i32.sub (local.get $h) (i32.const 1)))
          (i32.const 2))))))
        (local.set $k (local.get $kc))
        (local.set $cp (local.get $cs))
        (block $k_done
          (loop $ks
            (br_if $k_done (i32.eqz (local.get $k)))
            (local.set $off (i32.load (local.get $cp)))
            (local.set $v
              (v128.load32_lane 3 (i32.add (local.get $r3) (local.get $off))
                (v128.load32_lane 2 (i32.add (local.get $r2) (local.get $off))
                  (v128.load32_lane 1 (i32.add (local.get $r1) (local.get $off))
                    (v128.load32_zero (i32.add (local.get $r0) (local.get $off)))))))
            (v128.store (local.get $ap) (local.get $v))
            (local.set $zeros (i32.add (local.get $zeros) (i32.eqz (v128.any_true (local.get $v)))))
            (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
            (local.set $cp (i32.add (local.get $cp) (i32.const 4)))
            (local.set $k (i32.sub (local.get $k) (i32.const 1)))
            (br $ks)))
        (local.set $i0 (i32.add (local.get $i0) (i32.const 4)))
        (br $rows)))
    (local.get $zeros))

  ;; ---- weighted sum of gradients (the microbatch reduction) -----------------------
  ;;
  ;;   v[i]   = fl32(w g[i])                 w a float64: the product in double, rounded
  ;;                                         once to float32 (Math.fround(w * g[i]))
  ;;   out[i] = fl32(0 + v[i])               when first = 1   (so -0 becomes +0, as 0 + v does)
  ;;   out[i] = fl32(out[i] + v[i])          otherwise        for i < n
  ;;   result = sum over lanes of v[i] * 0   (0 when every v is finite, NaN otherwise)
  ;;
  ;; One term of streams/shards.ts's reduction grads = sum_s (B_s / B) g_s, in shard order;
  ;; the TypeScript twin is weightedAddTs in src/ops/weighted-add.ts (same bits: the
  ;; promote / multiply / demote below is exactly the double product rounded to float32).
  ;; Four lanes at a time: the low and high pairs are promoted to f64x2, multiplied,
  ;; demoted, and put back together; the tail (n mod 4) is scalar.
  (func $wadd (export "wadd")
    (param $out i32) (param $g i32) (param $n i32) (param $w f64) (param $first i32) (result f32)
    (local $ws v128) (local $v v128) (local $lo v128) (local $hi v128) (local $p v128)
    (local $end i32) (local $tail i32) (local $x f32) (local $q f32)
    (local.set $ws (f64x2.splat (local.get $w)))
    (local.set $p (v128.const i32x4 0 0 0 0))
    (local.set $tail (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end (i32.add (local.get $out) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $quads
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $v (v128.load (local.get $g)))
        (local.set $lo (f32x4.demote_f64x2_zero
          (f64x2.mul (f64x2.promote_low_f32x4 (local.get $v)) (local.get $ws))))
        (local.set $hi (f32x4.demote_f64x2_zero
          (f64x2.mul
            (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))
            (local.get $ws))))
        (local.set $v (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $lo) (local.get $hi)))
        (local.set $p (f32x4.add (local.get $p) (f32x4.mul (local.get $v) (v128.const i32x4 0 0 0 0))))
        (v128.store (local.get $out)
          (f32x4.add
            (select (v128.const i32x4 0 0 0 0) (v128.load (local.get $out)) (local.get $first))
            (local.get $v)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (br $quads)))
    (local.set $q
      (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $p)) (f32x4.extract_lane 1 (local.get $p)))
        (f32.add (f32x4.extract_lane 2 (local.get $p)) (f32x4.extract_lane 3 (local.get $p)))))
    (block $tail_done
      (loop $rest
        (br_if $tail_done (i32.ge_u (local.get $out) (local.get $tail)))
        (local.set $x (f32.demote_f64 (f64.mul (f64.promote_f32 (f32.load (local.get $g))) (local.get $w))))
        (local.set $q (f32.add (local.get $q) (f32.mul (local.get $x) (f32.const 0))))
        (f32.store (local.get $out)
          (f32.add (select (f32.const 0) (f32.load (local.get $out)) (local.get $first)) (local.get $x)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (br $rest)))
    (local.get $q))

  ;; ---- two terms of the weighted sum at once -------------------------------------------
  ;;
  ;;   a[i]   = fl32(wa ga[i]),  b[i] = fl32(wb gb[i])    (as wadd's v)
  ;;   out[i] = fl32(fl32((first ? 0 : out[i]) + a[i]) + b[i])          for i < n
  ;;   result = sum over lanes of a[i] * 0 + b[i] * 0 (0 when every term is finite, NaN otherwise)
  ;;
  ;; Exactly wadd(out, ga, wa, first) then wadd(out, gb, wb, 0): the same two roundings per
  ;; element in the same order (the fold's), in one pass, so the reduction of two shards
  ;; copies each operand into the kernel memory once and out back once (five copies and
  ;; two passes for two wadds). The TypeScript twin is weightedAdd2Ts in
  ;; src/ops/weighted-add.ts. Each probe term is added on its own: (a + b) * 0 would call
  ;; two finite terms whose sum overflows non-finite.
  (func $wadd2 (export "wadd2")
    (param $out i32) (param $ga i32) (param $gb i32) (param $n i32) (param $wa f64) (param $wb f64) (param $first i32) (result f32)
    (local $wsa v128) (local $wsb v128) (local $u v128) (local $a v128) (local $b v128) (local $p v128)
    (local $end i32) (local $tail i32) (local $xa f32) (local $xb f32) (local $q f32)
    (local.set $wsa (f64x2.splat (local.get $wa)))
    (local.set $wsb (f64x2.splat (local.get $wb)))
    (local.set $p (v128.const i32x4 0 0 0 0))
    (local.set $tail (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end (i32.add (local.get $out) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $quads
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        ;; a = fl32(wa ga), four lanes: low and high pairs promoted, multiplied, demoted
        (local.set $u (v128.load (local.get $ga)))
        (local.set $a (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.promote_low_f32x4 (local.get $u)) (local.get $wsa)))
          (f32x4.demote_f64x2_zero (f64x2.mul
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $u) (local.get $u)))
            (local.get $wsa)))))
        ;; b = fl32(wb gb), likewise
        (local.set $u (v128.load (local.get $gb)))
        (local.set $b (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.promote_low_f32x4 (local.get $u)) (local.get $wsb)))
          (f32x4.demote_f64x2_zero (f64x2.mul
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $u) (local.get $u)))
            (local.get $wsb)))))
        (local.set $p (f32x4.add (local.get $p) (f32x4.mul (local.get $a) (v128.const i32x4 0 0 0 0))))
        (local.set $p (f32x4.add (local.get $p) (f32x4.mul (local.get $b) (v128.const i32x4 0 0 0 0))))
        (v128.store (local.get $out)
          (f32x4.add
            (f32x4.add
              (select (v128.const i32x4 0 0 0 0) (v128.load (local.get $out)) (local.get $first))
              (local.get $a))
            (local.get $b)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $ga (i32.add (local.get $ga) (i32.const 16)))
        (local.set $gb (i32.add (local.get $gb) (i32.const 16)))
        (br $quads)))
    (local.set $q
      (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $p)) (f32x4.extract_lane 1 (local.get $p)))
        (f32.add (f32x4.extract_lane 2 (local.get $p)) (f32x4.extract_lane 3 (local.get $p)))))
    (block $tail_done
      (loop $rest
        (br_if $tail_done (i32.ge_u (local.get $out) (local.get $tail)))
        (local.set $xa (f32.demote_f64 (f64.mul (f64.promote_f32 (f32.load (local.get $ga))) (local.get $wa))))
        (local.set $xb (f32.demote_f64 (f64.mul (f64.promote_f32 (f32.load (local.get $gb))) (local.get $wb))))
        (local.set $q (f32.add (local.get $q) (f32.mul (local.get $xa) (f32.const 0))))
        (local.set $q (f32.add (local.get $q) (f32.mul (local.get $xb) (f32.const 0))))
        (f32.store (local.get $out)
          (f32.add
            (f32.add (select (f32.const 0) (f32.load (local.get $out)) (local.get $first)) (local.get $xa))
            (local.get $xb)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $ga (i32.add (local.get $ga) (i32.const 4)))
        (local.set $gb (i32.add (local.get $gb) (i32.const 4)))
        (br $rest)))
    (local.get $q))

    ;; ---- sgd: p[i] = fl32(p[i] - lr (g[i] + wd p[i])) over n floats, in place ------------
  ;;
  ;; The dense SGD step (ops/optim.ts sgdStep, its TS twin; cnn-layers-softmax eqs 18-21):
  ;; the twin evaluates p - lr (g + wd p) in float64 from float32 operands and rounds once
  ;; on the float32 store, which is exactly promote / f64x2 mul, add, mul, sub / demote
  ;; here, the same operations in the same order, so the same bits (wd p is computed even
  ;; when wd is 0: 0 * inf is NaN in both). Two float64 lanes at a time, four floats a
  ;; quad, the n mod 4 tail scalar. Returns sum fl32(p') * 0: 0 when every stored value is
  ;; finite, NaN otherwise (an f32 overflow on the store included).
  (func $sgd (export "sgd")
    (param $p i32) (param $g i32) (param $n i32) (param $lr f64) (param $wd f64) (result f32)
    (local $lrs v128) (local $wds v128) (local $pv v128) (local $gv v128) (local $a v128) (local $b v128)
    (local $lo v128) (local $hi v128) (local $v v128) (local $z v128)
    (local $end i32) (local $tail i32) (local $x f64) (local $y f32) (local $q f32)
    (local.set $lrs (f64x2.splat (local.get $lr)))
    (local.set $wds (f64x2.splat (local.get $wd)))
    (local.set $z (v128.const i32x4 0 0 0 0))
    (local.set $tail (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $quads
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $pv (v128.load (local.get $p)))
        (local.set $gv (v128.load (local.get $g)))
        ;; lanes 0, 1
        (local.set $a (f64x2.promote_low_f32x4 (local.get $pv)))
        (local.set $lo (f32x4.demote_f64x2_zero
          (f64x2.sub (local.get $a)
            (f64x2.mul (local.get $lrs)
              (f64x2.add (f64x2.promote_low_f32x4 (local.get $gv))
                (f64x2.mul (local.get $wds) (local.get $a)))))))
        ;; lanes 2, 3
        (local.set $b (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $pv) (local.get $pv))))
        (local.set $hi (f32x4.demote_f64x2_zero
          (f64x2.sub (local.get $b)
            (f64x2.mul (local.get $lrs)
              (f64x2.add
                (f64x2.promote_low_f32x4
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $gv) (local.get $gv)))
                (f64x2.mul (local.get $wds) (local.get $b)))))))
        (local.set $v (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $lo) (local.get $hi)))
        (local.set $z (f32x4.add (local.get $z) (f32x4.mul (local.get $v) (v128.const i32x4 0 0 0 0))))
        (v128.store (local.get $p) (local.get $v))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (br $quads)))
    (local.set $q
      (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $z)) (f32x4.extract_lane 1 (local.get $z)))
        (f32.add (f32x4.extract_lane 2 (local.get $z)) (f32x4.extract_lane 3 (local.get $z)))))
    (block $tail_done
      (loop $rest
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $tail)))
        (local.set $x (f64.promote_f32 (f32.load (local.get $p))))
        (local.set $y (f32.demote_f64
          (f64.sub (local.get $x)
            (f64.mul (local.get $lr)
              (f64.add (f64.promote_f32 (f32.load (local.get $g))) (f64.mul (local.get $wd) (local.get $x)))))))
        (local.set $q (f32.add (local.get $q) (f32.mul (local.get $y) (f32.const 0))))
        (f32.store (local.get $p) (local.get $y))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (br $rest)))
    (local.get $q))

  ;; ---- bias rows: c[r, o] = fl32(c[r, o] + b[o]) for r < M, o < O ---------------------
  ;;
  ;; The bias of a convolution's output (conv2d-simd.ts forward: y = fl(s + b[o]), the TS
  ;; twin the loop it replaced there, `y[e] = s[e] + b[o]` stored to float32: one rounding
  ;; of the exact sum, as f32.add). Four channels at a time, the O mod 4 tail scalar.
  (func $bias_rows (export "bias_rows") (param $c i32) (param $b i32) (param $M i32) (param $O i32)
    (local $end i32) (local $o i32) (local $O4 i32)
    (local.set $O4 (i32.and (local.get $O) (i32.const -4)))
    (local.set $end (i32.add (local.get $c) (i32.shl (i32.mul (local.get $M) (local.get $O)) (i32.const 2))))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $c) (local.get $end)))
        (local.set $o (i32.const 0))
        (block $v_done
          (loop $quads
            (br_if $v_done (i32.ge_s (local.get $o) (local.get $O4)))
            (v128.store (local.get $c)
              (f32x4.add (v128.load (local.get $c))
                (v128.load (i32.add (local.get $b) (i32.shl (local.get $o) (i32.const 2))))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (local.set $o (i32.add (local.get $o) (i32.const 4)))
            (br $quads)))
        (block $s_done
          (loop $rest
            (br_if $s_done (i32.ge_s (local.get $o) (local.get $O)))
            (f32.store (local.get $c)
              (f32.add (f32.load (local.get $c))
                (f32.load (i32.add (local.get $b) (i32.shl (local.get $o) (i32.const 2))))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $rest)))
        (br $rows))))

  ;; ---- finiteness probe: sum_i x[i] * 0 ------------------------------------------------
  ;;
  ;; 0 * x is NaN exactly when x is not finite, and a NaN stays NaN through the sums: the
  ;; result is 0 when every x[i] (i < n) is finite, NaN otherwise (twin: allFiniteTs,
  ;; ops/finite.ts). Four lanes at a time, the n mod 4 tail scalar.
  (func $probe (export "probe") (param $x i32) (param $n i32) (result f32)
    (local $end i32) (local $tail i32) (local $p v128) (local $q f32)
    (local.set $p (v128.const i32x4 0 0 0 0))
    (local.set $tail (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $quads
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $p (f32x4.add (local.get $p) (f32x4.mul (v128.load (local.get $x)) (v128.const i32x4 0 0 0 0))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $quads)))
    (local.set $q
      (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $p)) (f32x4.extract_lane 1 (local.get $p)))
        (f32.add (f32x4.extract_lane 2 (local.get $p)) (f32x4.extract_lane 3 (local.get $p)))))
    (block $tail_done
      (loop $rest
        (br_if $tail_done (i32.ge_u (local.get $x) (local.get $tail)))
        (local.set $q (f32.add (local.get $q) (f32.mul (f32.load (local.get $x)) (f32.const 0))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $rest)))
    (local.get $q))

  ;; ---- ReLU, forward and backward (twins: reluForward / reluBackward, ops/activations.ts) --
  ;;
  ;;   y[i]  = x[i] > 0 or x[i] is NaN ? x[i] : +0           (deep-learning-lecture-notes eq 4)
  ;;   dx[i] = y[i] > 0 ? dy[i] : +0                          (eq 5: derivative 0 at 0)
  ;;
  ;; As bit masks, four lanes at a time: y = x AND (x > 0 OR x != x), dx = dy AND (y > 0),
  ;; so every output has exactly the TypeScript loop's bits (NaN payloads included; -0 -> +0).
  ;; n is a multiple of 4 (the caller does the rest).
  (func $relu (export "relu") (param $y i32) (param $x i32) (param $n i32)
    (local $end i32) (local $v v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $quads
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $v (v128.load (local.get $x)))
        (v128.store (local.get $y)
          (v128.and (local.get $v)
            (v128.or
              (f32x4.gt (local.get $v) (v128.const i32x4 0 0 0 0))
              (f32x4.ne (local.get $v) (local.get $v)))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (br $quads))))

  (func $relu_grad (export "relu_grad") (param $dx i32) (param $dy i32) (param $y i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $y) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $quads
        (br_if $done (i32.ge_u (local.get $y) (local.get $end)))
        (v128.store (local.get $dx)
          (v128.and (v128.load (local.get $dy))
            (f32x4.gt (v128.load (local.get $y)) (v128.const i32x4 0 0 0 0))))
        (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
        (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (br $quads))))

  ;; ---- max pooling forward over NHWC (twin: maxPool2dForward, ops/pool.ts) ------------
  ;;
  ;;   y[n,i,j,c] = max_{p<ph, q<pw} x[n, i sh + p, j sw + q, c]
  ;;   argmax[n,i,j,c] = flat index in x of the FIRST maximum in row-major window order
  ;;   (a later value replaces it only when strictly larger, or when it is NaN and the
  ;;   best so far is not: NaN propagates)     (cnn-layers-softmax eq 4; cnn-derivation-lenet eq 3)
  ;;
  ;; Four channels per vector (C a multiple of 4): the comparison is a lane mask, and
  ;; bitselect takes the value and its index where it holds, so each lane follows the
  ;; TypeScript loop's test exactly. x, y, argmax are byte addresses; argmax gets float
  ;; indices into x (not bytes) plus base, as the twin's (base: the float index of this
  ;; chunk's first image in the whole batch). Geometry: images B of H x W, windows ph x pw,
  ;; strides sh, sw, output Ho x Wo.
  (func $maxpool (export "maxpool")
    (param $y i32) (param $am i32) (param $x i32)
    (param $B i32) (param $H i32) (param $W i32) (param $C i32)
    (param $ph i32) (param $pw i32) (param $sh i32) (param $sw i32) (param $Ho i32) (param $Wo i32) (param $base i32)
    (local $n i32) (local $i i32) (local $j i32) (local $c i32) (local $p i32) (local $q i32)
    (local $corner i32) (local $s i32) (local $best v128) (local $idx v128) (local $v v128) (local $m v128)
    (local.set $n (i32.const 0))
    (block $n_done (loop $ns
      (br_if $n_done (i32.ge_s (local.get $n) (local.get $B)))
      (local.set $i (i32.const 0))
      (block $i_done (loop $is
        (br_if $i_done (i32.ge_s (local.get $i) (local.get $Ho)))
        (local.set $j (i32.const 0))
        (block $j_done (loop $js
          (br_if $j_done (i32.ge_s (local.get $j) (local.get $Wo)))
          ;; corner = ((n H + i sh) W + j sw) C, a float index into x
          (local.set $corner (i32.mul (local.get $C)
            (i32.add
              (i32.mul (i32.add (i32.mul (local.get $n) (local.get $H)) (i32.mul (local.get $i) (local.get $sh))) (local.get $W))
              (i32.mul (local.get $j) (local.get $sw)))))
          (local.set $c (i32.const 0))
          (block $c_done (loop $cs
            (br_if $c_done (i32.ge_s (local.get $c) (local.get $C)))
            ;; start from the window's corner (p = q = 0)
            (local.set $s (i32.add (local.get $corner) (local.get $c)))
            (local.set $best (v128.load (i32.add (local.get $x) (i32.shl (local.get $s) (i32.const 2)))))
            (local.set $idx (i32x4.add (i32x4.splat (i32.add (local.get $base) (local.get $s))) (v128.const i32x4 0 1 2 3)))
            (local.set $p (i32.const 0))
            (block $p_done (loop $ps
              (br_if $p_done (i32.ge_s (local.get $p) (local.get $ph)))
              (local.set $q (select (i32.const 1) (i32.const 0) (i32.eqz (local.get $p))))
              (block $q_done (loop $qs
                (br_if $q_done (i32.ge_s (local.get $q) (local.get $pw)))
                ;; s = corner + (p W + q) C + c
                (local.set $s (i32.add (i32.add (local.get $corner) (local.get $c))
                  (i32.mul (i32.add (i32.mul (local.get $p) (local.get $W)) (local.get $q)) (local.get $C))))
                (local.set $v (v128.load (i32.add (local.get $x) (i32.shl (local.get $s) (i32.const 2)))))
                ;; v > best, or v is NaN and best is not
                (local.set $m (v128.or
                  (f32x4.gt (local.get $v) (local.get $best))
                  (v128.and (f32x4.ne (local.get $v) (local.get $v)) (f32x4.eq (local.get $best) (local.get $best)))))
                (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $m)))
                (local.set $idx (v128.bitselect
                  (i32x4.add (i32x4.splat (i32.add (local.get $base) (local.get $s))) (v128.const i32x4 0 1 2 3)) (local.get $idx) (local.get $m)))
                (local.set $q (i32.add (local.get $q) (i32.const 1)))
                (br $qs)))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $ps)))
            (v128.store (local.get $y) (local.get $best))
            (v128.store (local.get $am) (local.get $idx))
            (local.set $y (i32.add (local.get $y) (i32.const 16)))
            (local.set $am (i32.add (local.get $am) (i32.const 16)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $cs)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $js)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $is)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $ns))))

  ;; ---- max pooling backward (twin: maxPool2dBackward, ops/pool.ts) --------------------
  ;;
  ;;   dx[argmax[r]] = fl32(dx[argmax[r]] + dy[r])      r = 0 .. ny-1 ascending, dx zeroed
  ;;                                                   (cnn-derivation-lenet eqs 7-8)
  ;; dx, dy, am byte addresses; argmax holds float indices into the batch's dx, base the
  ;; index of this chunk's first element (dx points at it). The caller zeroes dx.
  (func $maxpool_grad (export "maxpool_grad") (param $dx i32) (param $dy i32) (param $am i32) (param $ny i32) (param $base i32)
    (local $end i32) (local $p i32)
    (local.set $end (i32.add (local.get $dy) (i32.shl (local.get $ny) (i32.const 2))))
    (block $done
      (loop $rs
        (br_if $done (i32.ge_u (local.get $dy) (local.get $end)))
        (local.set $p (i32.add (local.get $dx) (i32.shl (i32.sub (i32.load (local.get $am)) (local.get $base)) (i32.const 2))))
        (f32.store (local.get $p) (f32.add (f32.load (local.get $p)) (f32.load (local.get $dy))))
        (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
        (local.set $am (i32.add (local.get $am) (i32.const 4)))
        (br $rs))))

  ;; ---- col2im: scatter-add a [M, K] matrix onto an image --------------------------
  ;;
  ;;   dst[rs[r] + cs[t]] = fl(dst[rs[r] + cs[t]] + D[r, t])      r ascending, then t ascending
  ;;
  ;; The input gradient of a convolution: D = dy k'^T (computed by mm), each row r the
  ;; gradient of output pixel r's window, summed where windows overlap
  ;; (cnn-layers-softmax eq 2; deep-learning-lecture-notes eqs 33-34, 51-54). The order is
  ;; fixed, so the sums are the same bits on every run.
  (func $scatter (export "scatter")
    (param $dst i32) (param $d i32) (param $rs i32) (param $cs i32) (param $M i32) (param $K i32)
    (local $r i32) (local $t i32) (local $base i32) (local $p i32) (local $cp i32)
    (local.set $r (i32.const 0))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_s (local.get $r) (local.get $M)))
        (local.set $base (i32.add (local.get $dst)
          (i32.load (i32.add (local.get $rs) (i32.shl (local.get $r) (i32.const 2))))))
        (local.set $t (local.get $K))
        (local.set $cp (local.get $cs))
        (block $row_done
          (loop $taps
            (br_if $row_done (i32.eqz (local.get $t)))
            (local.set $p (i32.add (local.get $base) (i32.load (local.get $cp))))
            (f32.store (local.get $p) (f32.add (f32.load (local.get $p)) (f32.load (local.get $d))))
            (local.set $d (i32.add (local.get $d) (i32.const 4)))
            (local.set $cp (i32.add (local.get $cp) (i32.const 4)))
            (local.set $t (i32.sub (local.get $t) (i32.const 1)))
            (br $taps)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

  ;; ==== batch-1 dense and SGD on resident parameters (online learning) ====================
  ;; Section owned by the batch-1 work (ops/resident.ts lays out memory and calls these;
  ;; the TypeScript twins are ops/optim.ts, sgdOuterRowsInPlace, and ops/dense.ts,
  ;; denseForwardRows: the same bits, so batch 1 is the same on either backend). The
  ;; parameters live in the memory of a learner's own instance of this module, so a
  ;; batch-1 step reads and writes them in place.

  ;; ---- in-place SGD on rank-1 rows -----------------------------------------------------
  ;;
  ;;   p[rows[t], j] = fl(p - lr g),  g = +0 where v[j] = 0, else fl(u[t] v[j])
  ;;                                   (in f64: the bits of sgdStep, p - lr (g + 0 p), for
  ;;                                    finite p; g as fl(0 + u v) rounds it)
  ;;
  ;; for t < count, j < O; p: row-major [*, O]; rows: i32 [count]; u: f32 [count]; v: f32 [O].
  ;; The caller guarantees every p is finite (then 0 p adds nothing to a g that is not -0,
  ;; and g is -0 only where the product underflows, as in the twin). Rows with u[t] = 0
  ;; are skipped (g is +0 there). Returns 1 when every value written is finite.
  (func $sgd_outer (export "sgd_outer")
    (param $p i32) (param $u i32) (param $v i32) (param $rows i32) (param $count i32) (param $O i32) (param $lr f64)
    (result i32)
    (local $t i32) (local $j i32) (local $row i32) (local $at i32) (local $O4 i32)
    (local $a f32) (local $av v128) (local $lr2 v128) (local $ok v128) (local $oks i32)
    (local $vv v128) (local $g v128) (local $pv v128) (local $lo v128) (local $hi v128) (local $q v128)
    (local $gs f32) (local $qs f32)
    (local.set $lr2 (f64x2.splat (local.get $lr)))
    (local.set $ok (v128.const i32x4 -1 -1 -1 -1))
    (local.set $oks (i32.const 1))
    (local.set $O4 (i32.and (local.get $O) (i32.const -4)))
    (local.set $t (i32.const 0))
    (block $rows_done
      (loop $rows_loop
        (br_if $rows_done (i32.ge_s (local.get $t) (local.get $count)))
        (local.set $a (f32.load (i32.add (local.get $u) (i32.shl (local.get $t) (i32.const 2)))))
        (if (f32.ne (local.get $a) (f32.const 0))
          (then
            (local.set $av (f32x4.splat (local.get $a)))
            (local.set $row (i32.add (local.get $p)
              (i32.shl (i32.mul (i32.load (i32.add (local.get $rows) (i32.shl (local.get $t) (i32.const 2)))) (local.get $O)) (i32.const 2))))
            (local.set $j (i32.const 0))
            (block $cols_done
              (loop $cols
                (br_if $cols_done (i32.ge_s (local.get $j) (local.get $O4)))
                (local.set $vv (v128.load (i32.add (local.get $v) (i32.shl (local.get $j) (i32.const 2)))))
                ;; g: the product, +0 in the lanes where v is zero
                (local.set $g (v128.andnot (f32x4.mul (local.get $av) (local.get $vv))
                                           (f32x4.eq (local.get $vv) (v128.const f32x4 0 0 0 0))))
                (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                (local.set $pv (v128.load (local.get $at)))
                (local.set $lo (f64x2.sub (f64x2.promote_low_f32x4 (local.get $pv))
                  (f64x2.mul (local.get $lr2) (f64x2.promote_low_f32x4 (local.get $g)))))
                (local.set $hi (f64x2.sub
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $pv) (local.get $pv)))
                  (f64x2.mul (local.get $lr2)
                    (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $g) (local.get $g))))))
                (local.set $q (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                  (f32x4.demote_f64x2_zero (local.get $lo)) (f32x4.demote_f64x2_zero (local.get $hi))))
                (v128.store (local.get $at) (local.get $q))
                (local.set $ok (v128.and (local.get $ok)
                  (f32x4.eq (f32x4.sub (local.get $q) (local.get $q)) (v128.const f32x4 0 0 0 0))))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $cols)))
            ;; the last O mod 4 columns, one at a time
            (block $tail_done
              (loop $tail
                (br_if $tail_done (i32.ge_s (local.get $j) (local.get $O)))
                (local.set $gs (f32.load (i32.add (local.get $v) (i32.shl (local.get $j) (i32.const 2)))))
                (local.set $gs (select (f32.const 0) (f32.mul (local.get $a) (local.get $gs)) (f32.eq (local.get $gs) (f32.const 0))))
                (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                (local.set $qs (f32.demote_f64 (f64.sub (f64.promote_f32 (f32.load (local.get $at)))
                  (f64.mul (local.get $lr) (f64.promote_f32 (local.get $gs))))))
                (f32.store (local.get $at) (local.get $qs))
                (local.set $oks (i32.and (local.get $oks) (f32.eq (f32.sub (local.get $qs) (local.get $qs)) (f32.const 0))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $tail)))))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $rows_loop)))
    (i32.and (local.get $oks) (i32x4.all_true (local.get $ok))))

  ;; ---- batch-1 dense forward over the non-zero inputs ----------------------------------
  ;;
  ;;   y[j] = fl(fl(s_j) + b[j]),  s_j = sum_t u[t] W[rows[t], j]   (in f64, t ascending from
  ;;                                                                  s = 0: every product
  ;;                                                                  of two floats is exact)
  ;;
  ;; for j < O; W: row-major [*, O]; rows: i32 [count] (the listed inputs); u: f32 [count]
  ;; (their values); b: f32 [O]. The bits of the TypeScript twin (ops/dense.ts,
  ;; denseForwardRows: double sums rounded once, then the bias in float32), so batch 1 is
  ;; the same on either backend. Eight f64x2 accumulators (16 columns) per sweep of the
  ;; rows, then 4 columns, then the last O mod 4 one at a time (cnn-layers-softmax eq 6).
  (func $dense_row (export "dense_row")
    (param $y i32) (param $u i32) (param $rows i32) (param $count i32) (param $W i32) (param $b i32) (param $O i32)
    (local $t i32) (local $j i32) (local $at i32) (local $av v128) (local $w v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $s4 v128) (local $s5 v128) (local $s6 v128) (local $s7 v128) (local $ss f64)
    (local.set $j (i32.const 0))
    (block $b16_done
      (loop $b16
        (br_if $b16_done (i32.gt_s (i32.add (local.get $j) (i32.const 16)) (local.get $O)))
        (local.set $s0 (v128.const i32x4 0 0 0 0))
        (local.set $s1 (v128.const i32x4 0 0 0 0))
        (local.set $s2 (v128.const i32x4 0 0 0 0))
        (local.set $s3 (v128.const i32x4 0 0 0 0))
        (local.set $s4 (v128.const i32x4 0 0 0 0))
        (local.set $s5 (v128.const i32x4 0 0 0 0))
        (local.set $s6 (v128.const i32x4 0 0 0 0))
        (local.set $s7 (v128.const i32x4 0 0 0 0))
        (local.set $t (i32.const 0))
        (block $t_done
          (loop $tl
            (br_if $t_done (i32.ge_s (local.get $t) (local.get $count)))
            (local.set $av (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $u) (i32.shl (local.get $t) (i32.const 2)))))))
            (local.set $at (i32.add (local.get $W) (i32.shl (i32.add (local.get $j)
              (i32.mul (i32.load (i32.add (local.get $rows) (i32.shl (local.get $t) (i32.const 2)))) (local.get $O))) (i32.const 2))))
            (local.set $w (v128.load offset=0 (local.get $at)))
            (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $av) (f64x2.promote_low_f32x4 (local.get $w)))))
            (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $av)
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
            (local.set $w (v128.load offset=16 (local.get $at)))
            (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (local.get $av) (f64x2.promote_low_f32x4 (local.get $w)))))
            (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (local.get $av)
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
            (local.set $w (v128.load offset=32 (local.get $at)))
            (local.set $s4 (f64x2.add (local.get $s4) (f64x2.mul (local.get $av) (f64x2.promote_low_f32x4 (local.get $w)))))
            (local.set $s5 (f64x2.add (local.get $s5) (f64x2.mul (local.get $av)
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
            (local.set $w (v128.load offset=48 (local.get $at)))
            (local.set $s6 (f64x2.add (local.get $s6) (f64x2.mul (local.get $av) (f64x2.promote_low_f32x4 (local.get $w)))))
            (local.set $s7 (f64x2.add (local.get $s7) (f64x2.mul (local.get $av)
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br $tl)))
        (local.set $at (i32.shl (local.get $j) (i32.const 2)))
        (v128.store offset=0 (i32.add (local.get $y) (local.get $at))
          (f32x4.add (v128.load offset=0 (i32.add (local.get $b) (local.get $at)))
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (local.get $s0)) (f32x4.demote_f64x2_zero (local.get $s1)))))
        (v128.store offset=16 (i32.add (local.get $y) (local.get $at))
          (f32x4.add (v128.load offset=16 (i32.add (local.get $b) (local.get $at)))
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (local.get $s2)) (f32x4.demote_f64x2_zero (local.get $s3)))))
        (v128.store offset=32 (i32.add (local.get $y) (local.get $at))
          (f32x4.add (v128.load offset=32 (i32.add (local.get $b) (local.get $at)))
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (local.get $s4)) (f32x4.demote_f64x2_zero (local.get $s5)))))
        (v128.store offset=48 (i32.add (local.get $y) (local.get $at))
          (f32x4.add (v128.load offset=48 (i32.add (local.get $b) (local.get $at)))
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (local.get $s6)) (f32x4.demote_f64x2_zero (local.get $s7)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $b16)))
    (block $b4_done
      (loop $b4
        (br_if $b4_done (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $O)))
        (local.set $s0 (v128.const i32x4 0 0 0 0))
        (local.set $s1 (v128.const i32x4 0 0 0 0))
        (local.set $t (i32.const 0))
        (block $t4_done
          (loop $t4
            (br_if $t4_done (i32.ge_s (local.get $t) (local.get $count)))
            (local.set $av (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $u) (i32.shl (local.get $t) (i32.const 2)))))))
            (local.set $at (i32.add (local.get $W) (i32.shl (i32.add (local.get $j)
              (i32.mul (i32.load (i32.add (local.get $rows) (i32.shl (local.get $t) (i32.const 2)))) (local.get $O))) (i32.const 2))))
            (local.set $w (v128.load (local.get $at)))
            (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $av) (f64x2.promote_low_f32x4 (local.get $w)))))
            (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $av)
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br $t4)))
        (local.set $at (i32.shl (local.get $j) (i32.const 2)))
        (v128.store (i32.add (local.get $y) (local.get $at))
          (f32x4.add (v128.load (i32.add (local.get $b) (local.get $at)))
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (local.get $s0)) (f32x4.demote_f64x2_zero (local.get $s1)))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $b4)))
    (block $b1_done
      (loop $b1
        (br_if $b1_done (i32.ge_s (local.get $j) (local.get $O)))
        (local.set $ss (f64.const 0))
        (local.set $t (i32.const 0))
        (block $t1_done
          (loop $t1
            (br_if $t1_done (i32.ge_s (local.get $t) (local.get $count)))
            (local.set $ss (f64.add (local.get $ss)
              (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $u) (i32.shl (local.get $t) (i32.const 2)))))
                (f64.promote_f32 (f32.load (i32.add (local.get $W) (i32.shl (i32.add (local.get $j)
                  (i32.mul (i32.load (i32.add (local.get $rows) (i32.shl (local.get $t) (i32.const 2)))) (local.get $O))) (i32.const 2))))))))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br $t1)))
        (local.set $at (i32.shl (local.get $j) (i32.const 2)))
        (f32.store (i32.add (local.get $y) (local.get $at))
          (f32.add (f32.demote_f64 (local.get $ss)) (f32.load (i32.add (local.get $b) (local.get $at)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $b1))))
)
