#pragma once
// A register-blocked product for the small dense layers of RL networks (64–256 wide,
// batches of 1–256): C (=|+=) A · B with A column-major and B addressed by strides, so
// B may be a matrix or a transposed one without copying.
//
// Why: at these sizes Eigen's general GEMM spends a large share of its time packing both
// operands into its blocked layout. Here A's columns are read in place (contiguous rows of
// packets), each B coefficient is broadcast from memory, and a block of MR packets × NR
// columns of C stays in registers over the whole inner dimension — no packing, no zero
// fill. Built on Eigen's packet primitives, so it follows whatever SIMD the build enables.
//
// Used when the rows of C are a multiple of the packet size and every dimension is at most
// max_dimension (applies), or, where a caller opts in, C has at most narrow_max columns whatever
// its other sizes (applies_narrow: acting with a few environments, a recurrent step over a few
// sequences — Eigen would pack all of a large A, an LSTM(256)'s 1024 × 256 W_hh, 1 MB, for a
// product that reads each of its coefficients only a few times); otherwise callers use Eigen.
// run_dense is a dense layer's forward with the bias (and a ReLU) applied in registers, so the
// layer's output is written once instead of filled, accumulated into and activated in place.
#include <Eigen/Core>
#include <algorithm>

namespace spindle::autodiff::detail {

template <class S>
struct SmallGemm {
  using Packet = typename Eigen::internal::packet_traits<S>::type;
  static constexpr int width = Eigen::internal::unpacket_traits<Packet>::size;
#if defined(EIGEN_VECTORIZE_AVX512)
  static constexpr int mr = 4, nr = 6;  // 24 accumulators of 32 registers
#else
  static constexpr int mr = 3, nr = 4;  // 12 accumulators + 3 columns of A + 1 broadcast = 16 registers
#endif
  static constexpr Eigen::Index max_dimension = 256;
  static constexpr Eigen::Index narrow_max = 16;

  static bool applies(Eigen::Index m, Eigen::Index n, Eigen::Index k) noexcept {
    return Eigen::internal::packet_traits<S>::Vectorizable && width > 1 && m % width == 0 && m > 0 && n > 0 &&
           k > 0 && m <= max_dimension && n <= max_dimension && k <= max_dimension;
  }
  static bool applies_narrow(Eigen::Index m, Eigen::Index n, Eigen::Index k) noexcept {
    return Eigen::internal::packet_traits<S>::Vectorizable && width > 1 && m % width == 0 && m > 0 && n > 0 &&
           n <= narrow_max && k > 0;
  }
  /// Whether run() can compute C with m rows at all (whole packets): for callers that choose it by
  /// measurement at sizes past max_dimension (Lattice's K products: A streams once per row panel).
  static bool applies_rows(Eigen::Index m) noexcept {
    return Eigen::internal::packet_traits<S>::Vectorizable && width > 1 && m > 0 && m % width == 0;
  }
  /// The rule for A · X (X not transposed), as a layer's forward uses it: small, or few columns.
  static bool applies_forward(Eigen::Index m, Eigen::Index n, Eigen::Index k) noexcept {
    return applies(m, n, k) || applies_narrow(m, n, k);
  }

  // One block: rows [i, i + MR·width) × columns [j, j + NR) of C. With a bias (rows of this block),
  // C = acc + bias, then max(·, 0) if relu: a dense layer's forward in the one store of C.
  template <int MR, int NR, bool Accumulate>
  static void block(Eigen::Index k, const S* a, Eigen::Index lda, const S* b, Eigen::Index brs, Eigen::Index bcs,
                    S* c, Eigen::Index ldc, const S* bias, bool relu) noexcept {
    using namespace Eigen::internal;
    Packet acc[MR][NR];
    for (int r = 0; r < MR; ++r)
      for (int q = 0; q < NR; ++q) acc[r][q] = pset1<Packet>(S(0));
    for (Eigen::Index p = 0; p < k; ++p) {
      Packet col[MR];
      for (int r = 0; r < MR; ++r) col[r] = ploadu<Packet>(a + p * lda + r * width);
      const S* bp = b + p * brs;
      for (int q = 0; q < NR; ++q) {
        const Packet x = pset1<Packet>(bp[q * bcs]);
        for (int r = 0; r < MR; ++r) acc[r][q] = pmadd(col[r], x, acc[r][q]);
      }
    }
    if (bias) {
      const Packet zero = pset1<Packet>(S(0));
      for (int r = 0; r < MR; ++r) {
        const Packet offset = ploadu<Packet>(bias + r * width);
        for (int q = 0; q < NR; ++q) {
          acc[r][q] = padd(acc[r][q], offset);
          if (relu) acc[r][q] = pmax(acc[r][q], zero);  // Eigen's max(x, 0), as ReluOp
        }
      }
    }
    for (int q = 0; q < NR; ++q)
      for (int r = 0; r < MR; ++r) {
        S* out = c + q * ldc + r * width;
        pstoreu(out, Accumulate ? padd(ploadu<Packet>(out), acc[r][q]) : acc[r][q]);
      }
  }

  template <int MR, bool Accumulate>
  static void row_panel(Eigen::Index n, Eigen::Index k, const S* a, Eigen::Index lda, const S* b, Eigen::Index brs,
                        Eigen::Index bcs, S* c, Eigen::Index ldc, const S* bias, bool relu) noexcept {
    Eigen::Index j = 0;
    for (; j + nr <= n; j += nr)
      block<MR, nr, Accumulate>(k, a, lda, b + j * bcs, brs, bcs, c + j * ldc, ldc, bias, relu);
    tail<MR, nr - 1, Accumulate>(n - j, k, a, lda, b + j * bcs, brs, bcs, c + j * ldc, ldc, bias, relu);
  }

  // The last n < nr columns, as one block of exactly n columns.
  template <int MR, int NR, bool Accumulate>
  static void tail(Eigen::Index n, Eigen::Index k, const S* a, Eigen::Index lda, const S* b, Eigen::Index brs,
                   Eigen::Index bcs, S* c, Eigen::Index ldc, const S* bias, bool relu) noexcept {
    if constexpr (NR > 0) {
      if (n == NR) block<MR, NR, Accumulate>(k, a, lda, b, brs, bcs, c, ldc, bias, relu);
      else tail<MR, NR - 1, Accumulate>(n, k, a, lda, b, brs, bcs, c, ldc, bias, relu);
    }
  }

  // One column of C (acting with one environment): each coefficient is a chain of k
  // dependent multiply-adds, so up to gemv_packets packets of rows run side by side to
  // hide the latency. Same arithmetic per coefficient as block<MR, 1>.
  static constexpr int gemv_packets = 8;

  template <bool Accumulate>
  static void column(Eigen::Index m, Eigen::Index k, const S* a, Eigen::Index lda, const S* b, Eigen::Index brs,
                     S* c, const S* bias, bool relu) noexcept {
    Eigen::Index i = 0;
    for (; i + gemv_packets * width <= m; i += gemv_packets * width)
      block<gemv_packets, 1, Accumulate>(k, a + i, lda, b, brs, 0, c + i, 0, offset(bias, i), relu);
    column_tail<gemv_packets - 1, Accumulate>((m - i) / width, k, a + i, lda, b, brs, c + i, offset(bias, i), relu);
  }
  template <int MR, bool Accumulate>
  static void column_tail(Eigen::Index packets, Eigen::Index k, const S* a, Eigen::Index lda, const S* b,
                          Eigen::Index brs, S* c, const S* bias, bool relu) noexcept {
    if constexpr (MR > 0) {
      if (packets == MR) block<MR, 1, Accumulate>(k, a, lda, b, brs, 0, c, 0, bias, relu);
      else column_tail<MR - 1, Accumulate>(packets, k, a, lda, b, brs, c, bias, relu);
    }
  }
  static const S* offset(const S* bias, Eigen::Index rows) noexcept { return bias ? bias + rows : nullptr; }

  // Aᵀ · B for a few columns of B: every coefficient of C is a dot product of a column of A (k × m,
  // stored column-major) with a column of B, so A is read in place — no transposed copy, no
  // packing (backpropagation through a recurrent step: W_hhᵀ · dgates for a few sequences).
  // JB columns of A × NB columns of B in registers, packets along k, then one horizontal sum each.
  template <int JB, int NB, bool Accumulate>
  static void dot_block(Eigen::Index k, const S* a, Eigen::Index lda, const S* b, Eigen::Index ldb, S* c,
                        Eigen::Index ldc) noexcept {
    using namespace Eigen::internal;
    Packet acc[JB][NB];
    for (int j = 0; j < JB; ++j)
      for (int q = 0; q < NB; ++q) acc[j][q] = pset1<Packet>(S(0));
    Eigen::Index p = 0;
    for (; p + width <= k; p += width) {
      Packet x[NB];
      for (int q = 0; q < NB; ++q) x[q] = ploadu<Packet>(b + q * ldb + p);
      for (int j = 0; j < JB; ++j) {
        const Packet col = ploadu<Packet>(a + j * lda + p);
        for (int q = 0; q < NB; ++q) acc[j][q] = pmadd(col, x[q], acc[j][q]);
      }
    }
    for (int j = 0; j < JB; ++j)
      for (int q = 0; q < NB; ++q) {
        S sum = predux(acc[j][q]);
        for (Eigen::Index r = p; r < k; ++r) sum += a[j * lda + r] * b[q * ldb + r];
        S& out = c[q * ldc + j];
        out = Accumulate ? out + sum : sum;
      }
  }
  template <int JB, int NB, bool Accumulate>
  static void dot_columns(Eigen::Index nb, Eigen::Index k, const S* a, Eigen::Index lda, const S* b, Eigen::Index ldb,
                          S* c, Eigen::Index ldc) noexcept {
    if constexpr (NB > 0) {
      if (nb == NB) dot_block<JB, NB, Accumulate>(k, a, lda, b, ldb, c, ldc);
      else dot_columns<JB, NB - 1, Accumulate>(nb, k, a, lda, b, ldb, c, ldc);
    }
  }
  static constexpr int dot_rows = 4, dot_cols = 4;

  /// Whether run_transposed_a reads A in place for C = Aᵀ · B with C m × n and inner size k.
  static bool applies_transposed_a(Eigen::Index m, Eigen::Index n, Eigen::Index k) noexcept {
    return Eigen::internal::packet_traits<S>::Vectorizable && width > 1 && m > 0 && n > 0 && n <= narrow_max &&
           k >= width;
  }

  /// C (m × n, ldc) = or += Aᵀ · B with A k × m (lda) and B k × n (ldb), both column-major.
  template <bool Accumulate>
  static void run_transposed_a(Eigen::Index m, Eigen::Index n, Eigen::Index k, const S* a, Eigen::Index lda,
                               const S* b, Eigen::Index ldb, S* c, Eigen::Index ldc) noexcept {
    for (Eigen::Index q = 0; q < n; q += dot_cols) {
      const Eigen::Index nb = std::min<Eigen::Index>(dot_cols, n - q);
      Eigen::Index j = 0;
      for (; j + dot_rows <= m; j += dot_rows)
        dot_columns<dot_rows, dot_cols, Accumulate>(nb, k, a + j * lda, lda, b + q * ldb, ldb, c + q * ldc + j, ldc);
      for (; j < m; ++j) dot_columns<1, dot_cols, Accumulate>(nb, k, a + j * lda, lda, b + q * ldb, ldb, c + q * ldc + j, ldc);
    }
  }

  /// C (m × n, leading dimension ldc) = or += A (m × k, lda) · B, with B(p, q) = b[p·brs + q·bcs].
  template <bool Accumulate>
  static void run(Eigen::Index m, Eigen::Index n, Eigen::Index k, const S* a, Eigen::Index lda, const S* b,
                  Eigen::Index brs, Eigen::Index bcs, S* c, Eigen::Index ldc) noexcept {
    panels<Accumulate>(m, n, k, a, lda, b, brs, bcs, c, ldc, nullptr, false);
  }

  /// A dense layer's forward, C (m × n, ldc) = f(A · B + bias) with f the identity or ReLU (relu):
  /// bias and activation applied in registers, C written once. Same bits as C = bias, C += A · B,
  /// C = max(C, 0).
  static void run_dense(Eigen::Index m, Eigen::Index n, Eigen::Index k, const S* a, Eigen::Index lda, const S* b,
                        Eigen::Index brs, Eigen::Index bcs, S* c, Eigen::Index ldc, const S* bias, bool relu) noexcept {
    panels<false>(m, n, k, a, lda, b, brs, bcs, c, ldc, bias, relu);
  }

  template <bool Accumulate>
  static void panels(Eigen::Index m, Eigen::Index n, Eigen::Index k, const S* a, Eigen::Index lda, const S* b,
                     Eigen::Index brs, Eigen::Index bcs, S* c, Eigen::Index ldc, const S* bias, bool relu) noexcept {
    if (n == 1) return column<Accumulate>(m, k, a, lda, b, brs, c, bias, relu);
    Eigen::Index i = 0;
    for (; i + mr * width <= m; i += mr * width)
      row_panel<mr, Accumulate>(n, k, a + i, lda, b, brs, bcs, c + i, ldc, offset(bias, i), relu);
    row_remainder<mr - 1, Accumulate>((m - i) / width, n, k, a + i, lda, b, brs, bcs, c + i, ldc, offset(bias, i), relu);
  }

  // The last rows (fewer than mr packets) as one panel of exactly that many packets: each B
  // coefficient broadcast once for all of them, not once per packet.
  template <int MR, bool Accumulate>
  static void row_remainder(Eigen::Index packets, Eigen::Index n, Eigen::Index k, const S* a, Eigen::Index lda,
                            const S* b, Eigen::Index brs, Eigen::Index bcs, S* c, Eigen::Index ldc, const S* bias,
                            bool relu) noexcept {
    if constexpr (MR > 0) {
      if (packets == MR) row_panel<MR, Accumulate>(n, k, a, lda, b, brs, bcs, c, ldc, bias, relu);
      else row_remainder<MR - 1, Accumulate>(packets, n, k, a, lda, b, brs, bcs, c, ldc, bias, relu);
    }
  }
};

}  // namespace spindle::autodiff::detail
