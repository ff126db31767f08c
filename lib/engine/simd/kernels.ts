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

// Products run on packed panels, as BLAS libraries do: B is copied into panels of eight columns
// ([K][8] floats each, zero-padded past N), so the inner loop reads it sequentially whatever
// its layout, and a transposed A into panels of four rows ([K][4]). The panels of a product
// take K · (N rounded up to 8 + M rounded up to 4) floats of scratch (`gemmWorkFloats`).

// Four rows by eight columns of C from packed B: A's rows are read one float at a time
// (broadcast to four lanes). `ka` is the byte stride of A's rows, `ldc` of C's. With `acc` the
// tile adds to what C holds (a product summed over several ranges of k).
// @ts-ignore: decorator
@inline function tile4x8(
  a: usize, ka: usize, b: usize, c: usize, ldc: usize, K: i32, acc: bool,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (acc) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c + ldc); c11 = v128.load(c + ldc, 16);
    c20 = v128.load(c + 2 * ldc); c21 = v128.load(c + 2 * ldc, 16);
    c30 = v128.load(c + 3 * ldc); c31 = v128.load(c + 3 * ldc, 16);
  }
  let pa = a, pb = b;
  const end = a + (<usize>K << 2);
  while (pa < end) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let x = v128.load32_splat(pa);
    c00 = madd(x, b0, c00); c01 = madd(x, b1, c01);
    x = v128.load32_splat(pa + ka);
    c10 = madd(x, b0, c10); c11 = madd(x, b1, c11);
    x = v128.load32_splat(pa + 2 * ka);
    c20 = madd(x, b0, c20); c21 = madd(x, b1, c21);
    x = v128.load32_splat(pa + 3 * ka);
    c30 = madd(x, b0, c30); c31 = madd(x, b1, c31);
    pa += 4; pb += 32;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + ldc, c10); v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20); v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30); v128.store(c + 3 * ldc, c31, 16);
}

// The same tile from a packed panel of A: its four rows at step k are four adjacent floats.
// @ts-ignore: decorator
@inline function tile4x8P(a: usize, b: usize, c: usize, ldc: usize, K: i32, acc: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (acc) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c + ldc); c11 = v128.load(c + ldc, 16);
    c20 = v128.load(c + 2 * ldc); c21 = v128.load(c + 2 * ldc, 16);
    c30 = v128.load(c + 3 * ldc); c31 = v128.load(c + 3 * ldc, 16);
  }
  let pa = a, pb = b;
  const end = a + (<usize>K << 4);
  while (pa < end) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let x = v128.load32_splat(pa);
    c00 = madd(x, b0, c00); c01 = madd(x, b1, c01);
    x = v128.load32_splat(pa, 4);
    c10 = madd(x, b0, c10); c11 = madd(x, b1, c11);
    x = v128.load32_splat(pa, 8);
    c20 = madd(x, b0, c20); c21 = madd(x, b1, c21);
    x = v128.load32_splat(pa, 12);
    c30 = madd(x, b0, c30); c31 = madd(x, b1, c31);
    pa += 16; pb += 32;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + ldc, c10); v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20); v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30); v128.store(c + 3 * ldc, c31, 16);
}

// One row by eight columns from packed B; A's element k sits `step` bytes after element k - 1.
// @ts-ignore: decorator
@inline function tile1x8(a: usize, step: usize, b: usize, c: usize, K: i32, acc: bool): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  if (acc) {
    c0 = v128.load(c); c1 = v128.load(c, 16);
  }
  let pa = a, pb = b;
  for (let k = 0; k < K; k++) {
    const x = v128.load32_splat(pa);
    c0 = madd(x, v128.load(pb), c0);
    c1 = madd(x, v128.load(pb, 16), c1);
    pa += step; pb += 32;
  }
  v128.store(c, c0); v128.store(c, c1, 16);
}

/**
 * Copies `width` (4 or 8) of a matrix's columns j0.. into a panel [K][width]: from `src` [K, cols]
 * when not `transposed`, from `src` [cols, K] when it is. Columns past `cols` are zeros.
 */
function packPanel(
  src: usize, panel: usize, K: i32, cols: i32, j0: i32, width: i32, transposed: bool,
): void {
  const wb = <usize>width << 2;
  const full = j0 + width <= cols;
  if (!transposed && full) {
    const rb = <usize>cols << 2;
    let s = src + (<usize>j0 << 2), d = panel;
    for (let k = 0; k < K; k++) {
      v128.store(d, v128.load(s));
      if (width == 8) v128.store(d, v128.load(s, 16), 16);
      s += rb; d += wb;
    }
    return;
  }
  if (transposed && full) {
    // Four of the stored rows at a time, swapped into four panel rows with shuffles.
    const kb = <usize>K << 2;
    const K4 = K & ~3;
    for (let jj = 0; jj < width; jj += 4) {
      const s = src + <usize>(j0 + jj) * kb;
      let d = panel + (<usize>jj << 2);
      for (let k = 0; k < K4; k += 4) {
        const p = s + (<usize>k << 2);
        const r0 = v128.load(p), r1 = v128.load(p + kb);
        const r2 = v128.load(p + 2 * kb), r3 = v128.load(p + 3 * kb);
        const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
        const t2 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
        v128.store(d, v128.shuffle<i32>(t0, t2, 0, 1, 4, 5));
        v128.store(d + wb, v128.shuffle<i32>(t0, t2, 2, 3, 6, 7));
        v128.store(d + 2 * wb, v128.shuffle<i32>(t1, t3, 0, 1, 4, 5));
        v128.store(d + 3 * wb, v128.shuffle<i32>(t1, t3, 2, 3, 6, 7));
        d += 4 * wb;
      }
      for (let k = K4; k < K; k++) {
        for (let q = 0; q < 4; q++) {
          store<f32>(d + (<usize>q << 2), load<f32>(s + <usize>q * kb + (<usize>k << 2)));
        }
        d += wb;
      }
    }
    return;
  }
  // The last, partial panel.
  for (let k = 0; k < K; k++) {
    for (let jj = 0; jj < width; jj++) {
      const j = j0 + jj;
      let v: f32 = 0;
      if (j < cols) {
        v = transposed ? load<f32>(src + ((<usize>j * K + k) << 2)) : load<f32>(src + ((<usize>k * cols + j) << 2));
      }
      store<f32>(panel + ((<usize>k * width + jj) << 2), v);
    }
  }
}

/** Floats of scratch that gemm needs for its panels and edge tile. */
export function gemmWorkFloats(M: i32, K: i32, N: i32): i32 {
  return K * (((N + 7) & ~7) + ((M + 3) & ~3)) + 32;
}

// Columns of packed B swept per block of A's rows: a block of panels stays in the second-level
// cache while every row of A passes over it.
const COLUMN_BLOCK_BYTES: i32 = 128 << 10;

// Causal attention's products skip what the causal mask zeroes. Rows of the scores come in
// groups of `period` queries (grouped heads stack theirs), and query t sees keys up to
// t + `offset` (the cached positions before it).
/** Every output, every k. */
export const FULL: i32 = 0;
/** Scores-shaped output [R, S]: tiles wholly past every row's last key are left zero. */
export const CAUSAL_OUT: i32 = 1;
/** A is scores-shaped [R, S] (probabilities): row r sums over keys k ≤ its last key only. */
export const CAUSAL_ROWS: i32 = 2;
/** A is scores-shaped [R, S] read transposed: key row s sums over the queries that see it. */
export const CAUSAL_COLS: i32 = 3;

/**
 * C [M, N] = op(A) · op(B) with op a transpose where the flag is set: A stored [M, K] (or
 * [K, M]), B stored [K, N] (or [N, K]). `work` holds gemmWorkFloats(M, K, N) floats. `causal`
 * is one of the modes above; outside FULL, C's skipped parts are exact because the masked
 * probabilities they stand for are zeros.
 */
export function gemm(
  a: usize, b: usize, c: usize, M: i32, K: i32, N: i32, transA: bool, transB: bool, work: usize,
  causal: i32, period: i32, offset: i32,
): void {
  gemmRows(a, b, c, M, K, N, transA, transB, work, causal, period, offset, 0, M);
}

/** gemm's rows i0 … i1 - 1 of C only (i0 a multiple of 4), each with its own `work`. */
function gemmRows(
  a: usize, b: usize, c: usize, M: i32, K: i32, N: i32, transA: bool, transB: bool, work: usize,
  causal: i32, period: i32, offset: i32, i0: i32, i1: i32,
): void {
  const ldc = <usize>N << 2;
  const panelB = <usize>K << 5; // bytes of one packed panel of B
  const nPanels = (N + 7) >> 3;
  const packedA = work + <usize>nPanels * panelB;
  const edge = packedA + ((<usize>((M + 3) & ~3) * K) << 2); // a 4 × 8 tile
  for (let p = 0; p < nPanels; p++) packPanel(b, work + <usize>p * panelB, K, N, p << 3, 8, transB);
  if (transA) {
    for (let i = i0; i < i1; i += 4) packPanel(a, packedA + ((<usize>i * K) << 2), K, M, i, 4, false);
  }
  const block = max(1, COLUMN_BLOCK_BYTES / max(1, K << 5));
  const M4 = M & ~3;
  // A query group spans `period` rows of the scores; CAUSAL_COLS sums over each group in turn.
  const groups = causal == CAUSAL_COLS ? K / period : 1;
  for (let p0 = 0; p0 < nPanels; p0 += block) {
    const p1 = min(nPanels, p0 + block);
    for (let i = i0; i < i1; i += 4) {
      const rows = min(4, i1 - i);
      // The last key any of these rows sees (CAUSAL_OUT, CAUSAL_ROWS); the first query that
      // sees key i (CAUSAL_COLS).
      let lastKey = N + K;
      if (causal == CAUSAL_OUT || causal == CAUSAL_ROWS) {
        const first = i % period;
        lastKey = first + rows - 1 >= period ? period - 1 + offset : first + rows - 1 + offset;
      }
      const firstQuery = causal == CAUSAL_COLS ? max(0, i - offset) : 0;
      for (let p = p0; p < p1; p++) {
        const j = p << 3;
        const cols = min(8, N - j);
        const bp = work + <usize>p * panelB;
        const full = rows == 4 && cols == 8;
        const out = full ? c + <usize>i * ldc + (<usize>j << 2) : edge;
        const ld: usize = full ? ldc : 32;
        if (causal == CAUSAL_OUT && j > lastKey) {
          for (let r = 0; r < rows; r++) memory.fill(c + <usize>(i + r) * ldc + (<usize>j << 2), 0, cols << 2);
          continue;
        }
        for (let g = 0; g < groups; g++) {
          // This group's range of k.
          let k0 = 0, k1 = K;
          if (causal == CAUSAL_ROWS) k1 = min(K, lastKey + 1);
          if (causal == CAUSAL_COLS) {
            k0 = g * period + min(period, firstQuery);
            k1 = (g + 1) * period;
          }
          const kn = max(0, k1 - k0);
          const acc = g > 0;
          const bk = bp + (<usize>k0 << 5);
          if (transA) {
            tile4x8P(packedA + ((<usize>i * K + <usize>k0 * 4) << 2), bk, out, ld, kn, acc);
          } else if (i < M4) {
            tile4x8(a + ((<usize>i * K + k0) << 2), <usize>K << 2, bk, out, ld, kn, acc);
          } else {
            for (let r = 0; r < rows; r++) {
              tile1x8(a + ((<usize>(i + r) * K + k0) << 2), 4, bk, edge + (<usize>r << 5), kn, acc);
            }
          }
        }
        if (!full) {
          for (let r = 0; r < rows; r++) {
            for (let q = 0; q < cols; q++) {
              const v = load<f32>(edge + (<usize>r << 5) + (<usize>q << 2));
              store<f32>(c + <usize>(i + r) * ldc + (<usize>(j + q) << 2), v);
            }
          }
        }
      }
    }
  }
}

/** n products at once: A [n, M, K] · B [n, K, N] → C [n, M, N], operands as gemm takes them. */
export function gemmBatch(
  a: usize, b: usize, c: usize, n: i32, M: i32, K: i32, N: i32, transA: bool, transB: bool,
  work: usize, causal: i32, period: i32, offset: i32,
): void {
  gemmPart(a, b, c, n, M, K, N, transA, transB, work, causal, period, offset, 0, 1);
}

/**
 * Part `part` of `parts` of gemmBatch's work, for threads sharing one memory, each with its own
 * `work`: whole products where there are at least as many as parts, else a band of rows of
 * each. The parts together write every output once.
 */
export function gemmPart(
  a: usize, b: usize, c: usize, n: i32, M: i32, K: i32, N: i32, transA: bool, transB: bool,
  work: usize, causal: i32, period: i32, offset: i32, part: i32, parts: i32,
): void {
  const sa = (<usize>M * K) << 2, sb = (<usize>K * N) << 2, sc = (<usize>M * N) << 2;
  let first = 0, last = n, i0 = 0, i1 = M;
  if (n >= parts) {
    first = <i32>((<i64>n * part) / parts);
    last = <i32>((<i64>n * (part + 1)) / parts);
  } else {
    // Bands of whole 4-row tiles.
    const tiles = (M + 3) >> 2;
    i0 = <i32>((<i64>tiles * part) / parts) << 2;
    i1 = min(M, <i32>((<i64>tiles * (part + 1)) / parts) << 2);
  }
  if (i0 >= i1) return;
  for (let i = first; i < last; i++) {
    const u = <usize>i;
    gemmRows(
      a + u * sa, b + u * sb, c + u * sc, M, K, N, transA, transB, work, causal, period, offset,
      i0, i1,
    );
  }
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

// ---- Fused elementwise kernels: one pass each where tfjs would run three to six kernels. ----

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)
    + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// @ts-ignore: decorator
@inline function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)),
    max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/**
 * e^x on four lanes, to about 2 ulp: x = n ln 2 + r with |r| ≤ ln 2 / 2, a degree-6 polynomial
 * for e^r, and 2^n built in the exponent bits. Below x = -80 it returns exactly 0 and above 80
 * it saturates at e^80: results near the bottom of float32's range would breed subnormal
 * numbers in later products, which x86 multiplies about a hundred times slower (wasm cannot
 * flush them to zero), and e^-80 is far below what a softmax or sigmoid can resolve anyway.
 */
// @ts-ignore: decorator
@inline function exp4(x: v128): v128 {
  // pmin/pmax are single instructions (min/max spend several on NaN and signed-zero rules) and
  // keep a NaN input, which the final mask lets through.
  const c = f32x4.pmax(f32x4.pmin(x, f32x4.splat(80)), f32x4.splat(-80));
  // n = round(c · log2 e) by the 1.5 · 2^23 trick: the sum's low mantissa bits hold n.
  const shifted = madd(c, f32x4.splat(1.44269504), f32x4.splat(12582912));
  const n = f32x4.sub(shifted, f32x4.splat(12582912));
  // ln 2 in two parts so that n · ln 2 is subtracted without rounding away r.
  let r = madd(n, f32x4.splat(-0.693359375), c);
  r = madd(n, f32x4.splat(2.12194440e-4), r);
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  p = f32x4.add(madd(f32x4.mul(p, r), r, r), f32x4.splat(1));
  // 2^n in the exponent bits; the trick's own high bits shift out past bit 31.
  const scale = i32x4.shl(i32x4.add(shifted, i32x4.splat(127)), 23);
  return v128.andnot(f32x4.mul(p, scale), f32x4.lt(x, f32x4.splat(-80)));
}

/** sigmoid for one float, through the lanes as sigmoid4. */
// @ts-ignore: decorator
@inline function sigmoid1(x: f32): f32 {
  return f32x4.extract_lane(sigmoid4(f32x4.splat(x)), 0);
}

/** e^x for one float, through the lanes so that tails round as the vector bodies do. */
// @ts-ignore: decorator
@inline function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

/**
 * dst = e^(src - m) over `bytes` bytes of floats (src and dst may be one row); returns the sum.
 * Four lanes at a time while four are left, the tail one float at a time.
 */
// @ts-ignore: decorator
@inline function expShiftSum(src: usize, dst: usize, bytes: usize, m: f32): f32 {
  const b4 = bytes & ~15;
  const ms = f32x4.splat(m);
  let sv = f32x4.splat(0);
  let o: usize = 0;
  for (; o < b4; o += 16) {
    const e = exp4(f32x4.sub(v128.load(src + o), ms));
    v128.store(dst + o, e);
    sv = f32x4.add(sv, e);
  }
  let sum = hsum(sv);
  for (; o < bytes; o += 4) {
    const e = exp1(load<f32>(src + o) - m);
    store<f32>(dst + o, e);
    sum += e;
  }
  return sum;
}

/** Copies `bytes` bytes (a multiple of four) from s to d, sixteen at a time while it can. */
// @ts-ignore: decorator
@inline function copyRow(d: usize, s: usize, bytes: usize): void {
  const b16 = bytes & ~15;
  let o: usize = 0;
  for (; o < b16; o += 16) v128.store(d + o, v128.load(s + o));
  for (; o < bytes; o += 4) store<u32>(d + o, load<u32>(s + o));
}

// @ts-ignore: decorator
@inline function sigmoid4(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

/** SwiGLU's product silu(g) · u = g · sigmoid(g) · u over n floats. */
export function swiglu(g: usize, u: usize, y: usize, n: i32): void {
  const n4 = <usize>(n & ~3) << 2;
  let o: usize = 0;
  for (; o < n4; o += 16) {
    const gi = v128.load(g + o);
    v128.store(y + o, f32x4.mul(f32x4.mul(gi, sigmoid4(gi)), v128.load(u + o)));
  }
  for (; o < (<usize>n << 2); o += 4) {
    const gi = load<f32>(g + o);
    const s = sigmoid1(gi);
    store<f32>(y + o, gi * s * load<f32>(u + o));
  }
}

/** SwiGLU's backward: du = dy · silu(g), dg = dy · u · s (1 + g (1 - s)) with s = sigmoid(g). */
export function swigluGrad(g: usize, u: usize, dy: usize, dg: usize, du: usize, n: i32): void {
  const one = f32x4.splat(1);
  const n4 = <usize>(n & ~3) << 2;
  let o: usize = 0;
  for (; o < n4; o += 16) {
    const gi = v128.load(g + o), di = v128.load(dy + o);
    const s = sigmoid4(gi);
    v128.store(du + o, f32x4.mul(di, f32x4.mul(gi, s)));
    const ds = f32x4.mul(s, f32x4.add(one, f32x4.mul(gi, f32x4.sub(one, s))));
    v128.store(dg + o, f32x4.mul(f32x4.mul(di, v128.load(u + o)), ds));
  }
  for (; o < (<usize>n << 2); o += 4) {
    const gi = load<f32>(g + o), di = load<f32>(dy + o);
    const s = sigmoid1(gi);
    store<f32>(du + o, di * gi * s);
    store<f32>(dg + o, di * load<f32>(u + o) * s * (1 + gi * (1 - s)));
  }
}

/**
 * RMSNorm of `rows` rows of D floats: y = x · r · w with r = 1 / sqrt(mean(x²) + eps), r kept
 * per row for the backward pass. D is a multiple of four.
 */
export function rmsNorm(x: usize, w: usize, y: usize, r: usize, rows: i32, D: i32, eps: f32): void {
  const db = <usize>D << 2;
  for (let i = 0; i < rows; i++) {
    const xi = x + <usize>i * db, yi = y + <usize>i * db;
    let acc = f32x4.splat(0);
    for (let o: usize = 0; o < db; o += 16) {
      const v = v128.load(xi + o);
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    const ri: f32 = 1 / Mathf.sqrt(hsum(acc) / <f32>D + eps);
    store<f32>(r + (<usize>i << 2), ri);
    const rv = f32x4.splat(ri);
    for (let o: usize = 0; o < db; o += 16) {
      v128.store(yi + o, f32x4.mul(f32x4.mul(v128.load(xi + o), rv), v128.load(w + o)));
    }
  }
}

/**
 * RMSNorm's backward from the forward's r: with gw = dy · w per row,
 * dx = r · gw - x · r³ · mean(gw · x), and dw = Σ over rows of dy · x · r.
 */
export function rmsNormGrad(
  x: usize, w: usize, r: usize, dy: usize, dx: usize, dw: usize, rows: i32, D: i32,
): void {
  const db = <usize>D << 2;
  for (let o: usize = 0; o < db; o += 16) v128.store(dw + o, f32x4.splat(0));
  for (let i = 0; i < rows; i++) {
    const xi = x + <usize>i * db, di = dy + <usize>i * db, oi = dx + <usize>i * db;
    const ri: f32 = load<f32>(r + (<usize>i << 2));
    const rv = f32x4.splat(ri);
    let dot = f32x4.splat(0);
    for (let o: usize = 0; o < db; o += 16) {
      const xv = v128.load(xi + o), dv = v128.load(di + o);
      dot = f32x4.add(dot, f32x4.mul(f32x4.mul(dv, v128.load(w + o)), xv));
      v128.store(dw + o, f32x4.add(v128.load(dw + o), f32x4.mul(f32x4.mul(dv, xv), rv)));
    }
    const k = f32x4.splat(ri * ri * ri * hsum(dot) / <f32>D);
    for (let o: usize = 0; o < db; o += 16) {
      const gw = f32x4.mul(v128.load(di + o), v128.load(w + o));
      v128.store(oi + o, f32x4.sub(f32x4.mul(gw, rv), f32x4.mul(v128.load(xi + o), k)));
    }
  }
}

/**
 * Rotary embedding of x [B, T, H, hd] by tables cos, sin [B or 1, T, hd] (`tableBatch` says
 * which): y = x · cos + rotate_half(x) · sin, rotate_half(x) = [-x₂, x₁] for the two halves.
 * With `backward` it applies the transpose instead (dy · cos + rotate_halfᵀ(dy · sin)), which
 * is the gradient. hd / 2 is a multiple of four.
 */
export function rope(
  x: usize, cos: usize, sin: usize, y: usize, B: i32, T: i32, H: i32, hd: i32,
  tableBatch: bool, backward: bool,
): void {
  const hb = <usize>hd << 1; // half a head, in bytes
  const rowb = <usize>hd << 2;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const table = (<usize>(tableBatch ? b * T + t : t)) * rowb;
      const c = cos + table, s = sin + table;
      for (let h = 0; h < H; h++) {
        const at = (<usize>((b * T + t) * H + h)) * rowb;
        const xi = x + at, yi = y + at;
        for (let o: usize = 0; o < hb; o += 16) {
          const x1 = v128.load(xi + o), x2 = v128.load(xi + hb + o);
          const c1 = v128.load(c + o), c2 = v128.load(c + hb + o);
          const s1 = v128.load(s + o), s2 = v128.load(s + hb + o);
          if (backward) {
            v128.store(yi + o, f32x4.add(f32x4.mul(x1, c1), f32x4.mul(x2, s2)));
            v128.store(yi + hb + o, f32x4.sub(f32x4.mul(x2, c2), f32x4.mul(x1, s1)));
          } else {
            v128.store(yi + o, f32x4.sub(f32x4.mul(x1, c1), f32x4.mul(x2, s1)));
            v128.store(yi + hb + o, f32x4.add(f32x4.mul(x2, c2), f32x4.mul(x1, s2)));
          }
        }
      }
    }
  }
}

/**
 * Softmax over rows of S floats of x [B, H, T, S] plus a bias [B or 1, T, S] (`biasBatch` says
 * which) shared by the H heads: the causal and padding masks of attention.
 */
export function softmaxBias(
  x: usize, bias: usize, y: usize, B: i32, H: i32, T: i32, S: i32, biasBatch: bool,
): void {
  const sb = <usize>S << 2;
  const S4 = <usize>(S & ~3) << 2;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const row = (<usize>((b * H + h) * T + t)) * sb;
        const xi = x + row, yi = y + row;
        const bi = bias + (<usize>(biasBatch ? b * T + t : t)) * sb;
        let mv = f32x4.splat(-Infinity);
        let o: usize = 0;
        for (; o < S4; o += 16) {
          const v = f32x4.add(v128.load(xi + o), v128.load(bi + o));
          v128.store(yi + o, v);
          mv = f32x4.pmax(mv, v);
        }
        let m = hmax(mv);
        for (; o < sb; o += 4) {
          const v = load<f32>(xi + o) + load<f32>(bi + o);
          store<f32>(yi + o, v);
          m = max(m, v);
        }
        const sum = expShiftSum(yi, yi, sb, m);
        const inv = f32x4.splat(1 / sum);
        for (o = 0; o < S4; o += 16) v128.store(yi + o, f32x4.mul(v128.load(yi + o), inv));
        for (; o < sb; o += 4) store<f32>(yi + o, load<f32>(yi + o) / sum);
      }
    }
  }
}

/** Softmax's backward over rows of S floats: dx = p · (dp - Σ p · dp). */
export function softmaxGrad(p: usize, dp: usize, dx: usize, rows: i32, S: i32): void {
  const sb = <usize>S << 2;
  const S4 = <usize>(S & ~3) << 2;
  for (let i = 0; i < rows; i++) {
    const pi = p + <usize>i * sb, di = dp + <usize>i * sb, oi = dx + <usize>i * sb;
    let acc = f32x4.splat(0);
    let o: usize = 0;
    for (; o < S4; o += 16) acc = f32x4.add(acc, f32x4.mul(v128.load(pi + o), v128.load(di + o)));
    let dot = hsum(acc);
    for (; o < sb; o += 4) dot += load<f32>(pi + o) * load<f32>(di + o);
    const dv = f32x4.splat(dot);
    for (o = 0; o < S4; o += 16) {
      v128.store(oi + o, f32x4.mul(v128.load(pi + o), f32x4.sub(v128.load(di + o), dv)));
    }
    for (; o < sb; o += 4) store<f32>(oi + o, load<f32>(pi + o) * (load<f32>(di + o) - dot));
  }
}

/**
 * [A, R, C, inner] → [A, C, R, inner]: two middle axes swapped, `inner` floats moved together
 * (heads in and out of [batch, time, heads, head_dim]).
 */
export function swapMiddle(src: usize, dst: usize, A: i32, R: i32, C: i32, inner: i32): void {
  const ib = <usize>inner << 2;
  for (let a = 0; a < A; a++) {
    const base = <usize>a * R * C;
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < C; c++) {
        copyRow(dst + (base + <usize>c * R + r) * ib, src + (base + <usize>r * C + c) * ib, ib);
      }
    }
  }
}

/**
 * dst [n, row] = src [., row] at rows idx [n] (int32, checked by the caller): an embedding or
 * table lookup, one contiguous copy per row.
 */
export function gatherRows(src: usize, idx: usize, dst: usize, n: i32, rowBytes: i32): void {
  const rb = <usize>rowBytes;
  for (let i = 0; i < n; i++) {
    copyRow(dst + <usize>i * rb, src + <usize>load<i32>(idx + (<usize>i << 2)) * rb, rb);
  }
}

/**
 * Cross-entropy of `rows` rows of V logits against targets [rows] (int32, checked by the
 * caller), each row weighted by w [rows]: loss [rows] = w · (log Σ e^x - x[target]), and its
 * gradient grad [rows, V] = w · (softmax(x) - onehot(target)), in two passes over each row.
 */
export function crossEntropy(
  x: usize, targets: usize, w: usize, loss: usize, grad: usize, rows: i32, V: i32,
): void {
  const vb = <usize>V << 2;
  const V4 = <usize>(V & ~3) << 2;
  for (let i = 0; i < rows; i++) {
    const xi = x + <usize>i * vb, gi = grad + <usize>i * vb;
    const wi = load<f32>(w + (<usize>i << 2));
    const t = load<i32>(targets + (<usize>i << 2));
    let mv = f32x4.splat(-Infinity);
    let o: usize = 0;
    for (; o < V4; o += 16) mv = f32x4.pmax(mv, v128.load(xi + o));
    let m = hmax(mv);
    for (; o < vb; o += 4) m = max(m, load<f32>(xi + o));
    // e^(x - m) into the gradient's row, then scaled to w · softmax.
    const sum = expShiftSum(xi, gi, vb, m);
    const scale = wi / sum;
    const sc = f32x4.splat(scale);
    for (o = 0; o < V4; o += 16) v128.store(gi + o, f32x4.mul(v128.load(gi + o), sc));
    for (; o < vb; o += 4) store<f32>(gi + o, load<f32>(gi + o) * scale);
    const at = gi + (<usize>t << 2);
    store<f32>(at, load<f32>(at) - wi);
    const lse = m + Mathf.log(sum);
    store<f32>(loss + (<usize>i << 2), wi == 0 ? 0 : wi * (lse - load<f32>(xi + (<usize>t << 2))));
  }
}
