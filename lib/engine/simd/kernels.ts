// AssemblyScript: tunebook's own wasm kernels, compiled by `npm run build:simd` into
// dist/wasm/ in two builds, one with relaxed SIMD's fused multiply-add and one without.
// They import the tfjs wasm backend's memory and work on its tensors in place: every pointer
// below is a byte offset into that memory, every matrix is row-major float32.

// a * b + c on four lanes: one fused instruction where the build has relaxed SIMD.
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// Four rows by eight columns of C: A's rows are read one float at a time (broadcast to four
// lanes), B's row k gives two vectors. `ka` is the byte stride of A's rows, `nb` of B's and C's.
// @ts-ignore: decorator
@inline function tile4x8(a: usize, b: usize, c: usize, ka: usize, nb: usize, K: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let pa = a, pb = b;
  const end = a + (<usize>K << 2);
  while (pa < end) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    const a0 = v128.load32_splat(pa);
    const a1 = v128.load32_splat(pa + ka);
    const a2 = v128.load32_splat(pa + 2 * ka);
    const a3 = v128.load32_splat(pa + 3 * ka);
    c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
    c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
    c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
    c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
    pa += 4; pb += nb;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + nb, c10); v128.store(c + nb, c11, 16);
  v128.store(c + 2 * nb, c20); v128.store(c + 2 * nb, c21, 16);
  v128.store(c + 3 * nb, c30); v128.store(c + 3 * nb, c31, 16);
}

// The same tile when A is stored transposed ([K, M]): its four rows at step k are four adjacent
// floats, one load spread into four broadcasts. `ma` is the byte stride of stored A's rows.
// @ts-ignore: decorator
@inline function tile4x8T(a: usize, b: usize, c: usize, ma: usize, nb: usize, K: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let pa = a, pb = b;
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    const x = v128.load(pa);
    const a0 = v128.shuffle<i32>(x, x, 0, 0, 0, 0);
    const a1 = v128.shuffle<i32>(x, x, 1, 1, 1, 1);
    const a2 = v128.shuffle<i32>(x, x, 2, 2, 2, 2);
    const a3 = v128.shuffle<i32>(x, x, 3, 3, 3, 3);
    c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
    c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
    c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
    c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
    pa += ma; pb += nb;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + nb, c10); v128.store(c + nb, c11, 16);
  v128.store(c + 2 * nb, c20); v128.store(c + 2 * nb, c21, 16);
  v128.store(c + 3 * nb, c30); v128.store(c + 3 * nb, c31, 16);
}

// One row by eight columns; A's element k sits `step` bytes after element k - 1.
// @ts-ignore: decorator
@inline function tile1x8(a: usize, step: usize, b: usize, c: usize, nb: usize, K: i32): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  let pa = a, pb = b;
  for (let k = 0; k < K; k++) {
    const x = v128.load32_splat(pa);
    c0 = madd(x, v128.load(pb), c0);
    c1 = madd(x, v128.load(pb, 16), c1);
    pa += step; pb += nb;
  }
  v128.store(c, c0); v128.store(c, c1, 16);
}

/**
 * C [M, N] = A [M, K] · B [K, N], or Aᵀ · B with A stored as [K, M] when `transA` is set.
 * Columns past the last multiple of eight are summed one at a time.
 */
export function gemm(a: usize, b: usize, c: usize, M: i32, K: i32, N: i32, transA: bool): void {
  const nb = <usize>N << 2;
  // Byte steps between A's rows (i) and along a row (k), as A is stored.
  const rowStep: usize = transA ? 4 : <usize>K << 2;
  const kStep: usize = transA ? <usize>M << 2 : 4;
  const M4 = M & ~3;
  const N8 = N & ~7;
  if (transA) {
    // Stored transposed, four of A's rows are a column strip touching K cache lines: sweep all
    // of B against one strip while those lines are cached.
    for (let i = 0; i < M4; i += 4) {
      for (let j = 0; j < N8; j += 8) {
        const ci = c + <usize>i * nb + (<usize>j << 2);
        tile4x8T(a + (<usize>i << 2), b + (<usize>j << 2), ci, kStep, nb, K);
      }
    }
  } else {
    // Eight of B's columns are reused by every block of A's rows.
    for (let j = 0; j < N8; j += 8) {
      for (let i = 0; i < M4; i += 4) {
        const ci = c + <usize>i * nb + (<usize>j << 2);
        tile4x8(a + <usize>i * rowStep, b + (<usize>j << 2), ci, rowStep, nb, K);
      }
    }
  }
  for (let j = 0; j < N8; j += 8) {
    for (let i = M4; i < M; i++) {
      tile1x8(a + <usize>i * rowStep, kStep, b + (<usize>j << 2), c + <usize>i * nb + (<usize>j << 2), nb, K);
    }
  }
  for (let j = N8; j < N; j++) {
    for (let i = 0; i < M; i++) {
      let sum: f32 = 0;
      let pa = a + <usize>i * rowStep, pb = b + (<usize>j << 2);
      for (let k = 0; k < K; k++) {
        sum += load<f32>(pa) * load<f32>(pb);
        pa += kStep; pb += nb;
      }
      store<f32>(c + <usize>i * nb + (<usize>j << 2), sum);
    }
  }
}

/** n products at once: A [n, M, K] (or [n, K, M] with `transA`) · B [n, K, N] → C [n, M, N]. */
export function gemmBatch(
  a: usize, b: usize, c: usize, n: i32, M: i32, K: i32, N: i32, transA: bool,
): void {
  const sa = (<usize>M * K) << 2, sb = (<usize>K * N) << 2, sc = (<usize>M * N) << 2;
  for (let i: usize = 0; i < <usize>n; i++) gemm(a + i * sa, b + i * sb, c + i * sc, M, K, N, transA);
}

/**
 * One AdamW update of n floats, written to new buffers (tensors are immutable): m and v take
 * the moving averages of g and g², p steps by `stepSize` · m / (sqrt(v / correction2) + eps)
 * and shrinks by `decay` (learning rate × weight decay).
 */
export function adamw(
  p: usize, g: usize, m: usize, v: usize, pOut: usize, mOut: usize, vOut: usize, n: i32,
  beta1: f32, beta2: f32, eps: f32, stepSize: f32, correction2: f32, decay: f32,
): void {
  const b1 = f32x4.splat(beta1), c1 = f32x4.splat(1 - beta1);
  const b2 = f32x4.splat(beta2), c2 = f32x4.splat(1 - beta2);
  const e = f32x4.splat(eps), s = f32x4.splat(stepSize);
  const inv2 = f32x4.splat(1 / correction2), d = f32x4.splat(decay);
  const n4 = <usize>(n & ~3) << 2;
  let o: usize = 0;
  for (; o < n4; o += 16) {
    const gi = v128.load(g + o), pi = v128.load(p + o);
    const mi = f32x4.add(f32x4.mul(b1, v128.load(m + o)), f32x4.mul(c1, gi));
    const vi = f32x4.add(f32x4.mul(b2, v128.load(v + o)), f32x4.mul(c2, f32x4.mul(gi, gi)));
    const denom = f32x4.add(f32x4.sqrt(f32x4.mul(vi, inv2)), e);
    const stepped = f32x4.sub(pi, f32x4.mul(f32x4.div(mi, denom), s));
    v128.store(pOut + o, f32x4.sub(stepped, f32x4.mul(pi, d)));
    v128.store(mOut + o, mi);
    v128.store(vOut + o, vi);
  }
  const end = <usize>n << 2;
  for (; o < end; o += 4) {
    const gi = load<f32>(g + o), pi = load<f32>(p + o);
    const mi = beta1 * load<f32>(m + o) + (1 - beta1) * gi;
    const vi = beta2 * load<f32>(v + o) + (1 - beta2) * gi * gi;
    const denom = Mathf.sqrt(vi / correction2) + eps;
    store<f32>(pOut + o, pi - (mi / denom) * stepSize - pi * decay);
    store<f32>(mOut + o, mi);
    store<f32>(vOut + o, vi);
  }
}

/** dst [n, C, R] = src [n, R, C] with the last two axes swapped, in 4×4 blocks of lanes. */
export function transpose(src: usize, dst: usize, n: i32, R: i32, C: i32): void {
  const R4 = R & ~3, C4 = C & ~3;
  const rb = <usize>R << 2, cb = <usize>C << 2;
  for (let m = 0; m < n; m++) {
    const s = src + <usize>m * rb * C, d = dst + <usize>m * rb * C;
    for (let i = 0; i < R4; i += 4) {
      const si = s + <usize>i * cb, di = d + (<usize>i << 2);
      for (let j = 0; j < C4; j += 4) {
        const p = si + (<usize>j << 2);
        const r0 = v128.load(p), r1 = v128.load(p + cb);
        const r2 = v128.load(p + 2 * cb), r3 = v128.load(p + 3 * cb);
        const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
        const t2 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
        const q = di + <usize>j * rb;
        v128.store(q, v128.shuffle<i32>(t0, t2, 0, 1, 4, 5));
        v128.store(q + rb, v128.shuffle<i32>(t0, t2, 2, 3, 6, 7));
        v128.store(q + 2 * rb, v128.shuffle<i32>(t1, t3, 0, 1, 4, 5));
        v128.store(q + 3 * rb, v128.shuffle<i32>(t1, t3, 2, 3, 6, 7));
      }
      for (let j = C4; j < C; j++) {
        for (let r = 0; r < 4; r++) {
          store<u32>(d + (<usize>j * R + i + r) * 4, load<u32>(s + (<usize>(i + r) * C + j) * 4));
        }
      }
    }
    for (let i = R4; i < R; i++) {
      for (let j = 0; j < C; j++) {
        store<u32>(d + (<usize>j * R + i) * 4, load<u32>(s + (<usize>i * C + j) * 4));
      }
    }
  }
}
