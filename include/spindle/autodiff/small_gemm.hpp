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
  static constexpr int mr = 2, nr = 4;  // 8 accumulators of 16 registers
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

  // One block: rows [i, i + MR·width) × columns [j, j + NR) of C.
  template <int MR, int NR, bool Accumulate>
  static void block(Eigen::Index k, const S* a, Eigen::Index lda, const S* b, Eigen::Index brs, Eigen::Index bcs,
                    S* c, Eigen::Index ldc) noexcept {
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
    for (int q = 0; q < NR; ++q)
      for (int r = 0; r < MR; ++r) {
        S* out = c + q * ldc + r * width;
        pstoreu(out, Accumulate ? padd(ploadu<Packet>(out), acc[r][q]) : acc[r][q]);
      }
  }

  template <int MR, bool Accumulate>
  static void row_panel(Eigen::Index n, Eigen::Index k, const S* a, Eigen::Index lda, const S* b, Eigen::Index brs,
                        Eigen::Index bcs, S* c, Eigen::Index ldc) noexcept {
    Eigen::Index j = 0;
    for (; j + nr <= n; j += nr) block<MR, nr, Accumulate>(k, a, lda, b + j * bcs, brs, bcs, c + j * ldc, ldc);
    tail<MR, nr - 1, Accumulate>(n - j, k, a, lda, b + j * bcs, brs, bcs, c + j * ldc, ldc);
  }

  // The last n < nr columns, as one block of exactly n columns.
  template <int MR, int NR, bool Accumulate>
  static void tail(Eigen::Index n, Eigen::Index k, const S* a, Eigen::Index lda, const S* b, Eigen::Index brs,
                   Eigen::Index bcs, S* c, Eigen::Index ldc) noexcept {
    if constexpr (NR > 0) {
      if (n == NR) block<MR, NR, Accumulate>(k, a, lda, b, brs, bcs, c, ldc);
      else tail<MR, NR - 1, Accumulate>(n, k, a, lda, b, brs, bcs, c, ldc);
    }
  }

  // One column of C (acting with one environment): each coefficient is a chain of k
  // dependent multiply-adds, so up to gemv_packets packets of rows run side by side to
  // hide the latency. Same arithmetic per coefficient as block<MR, 1>.
  static constexpr int gemv_packets = 8;

  template <bool Accumulate>
  static void column(Eigen::Index m, Eigen::Index k, const S* a, Eigen::Index lda, const S* b, Eigen::Index brs,
                     S* c) noexcept {
    Eigen::Index i = 0;
    for (; i + gemv_packets * width <= m; i += gemv_packets * width)
      block<gemv_packets, 1, Accumulate>(k, a + i, lda, b, brs, 0, c + i, 0);
    column_tail<gemv_packets - 1, Accumulate>((m - i) / width, k, a + i, lda, b, brs, c + i);
  }
  template <int MR, bool Accumulate>
  static void column_tail(Eigen::Index packets, Eigen::Index k, const S* a, Eigen::Index lda, const S* b,
                          Eigen::Index brs, S* c) noexcept {
    if constexpr (MR > 0) {
      if (packets == MR) block<MR, 1, Accumulate>(k, a, lda, b, brs, 0, c, 0);
      else column_tail<MR - 1, Accumulate>(packets, k, a, lda, b, brs, c);
    }
  }

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
    if (n == 1) return column<Accumulate>(m, k, a, lda, b, brs, c);
    Eigen::Index i = 0;
    for (; i + mr * width <= m; i += mr * width) row_panel<mr, Accumulate>(n, k, a + i, lda, b, brs, bcs, c + i, ldc);
    for (; i < m; i += width) row_panel<1, Accumulate>(n, k, a + i, lda, b, brs, bcs, c + i, ldc);
  }
};

}  // namespace spindle::autodiff::detail
