#pragma once
// dst = srcᵀ for column-major blocks, in square tiles of one SIMD packet per side: each tile loads N
// columns' N-coefficient segments, transposes them in registers (Eigen's ptranspose) and stores N
// columns of dst. Eigen's `dst = src.transpose()` between two maps gathers one coefficient per load,
// a strided read per float (measured ~10× slower at 256 × 256, where linear()'s backward copies Wᵀ
// every minibatch). A pure copy: the same bits as Eigen's.
#include <Eigen/Core>

namespace spindle::autodiff::detail {

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // SIMD types as template arguments (PacketBlock)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 on the _mm512_undefined_* inside Eigen's ptranspose
#endif
/// dst (cols × rows, leading dimension ldd) = src (rows × cols, leading dimension lds) transposed.
template <class Scalar>
void transpose_into(const Scalar* src, Eigen::Index rows, Eigen::Index cols, Eigen::Index lds, Scalar* dst,
                    Eigen::Index ldd) noexcept {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr int N = unpacket_traits<Packet>::size;
  const Eigen::Index whole_rows = rows / N * N, whole_cols = cols / N * N;
  if constexpr (N > 1) {
    for (Eigen::Index j = 0; j < whole_cols; j += N)
      for (Eigen::Index i = 0; i < whole_rows; i += N) {
        PacketBlock<Packet, N> tile;
        for (int k = 0; k < N; ++k) tile.packet[k] = ploadu<Packet>(src + i + (j + k) * lds);  // src(i.., j + k)
        ptranspose(tile);
        for (int k = 0; k < N; ++k) pstoreu(dst + j + (i + k) * ldd, tile.packet[k]);  // dst(j.., i + k)
      }
  }
  const Eigen::Index tiled_rows = N > 1 ? whole_rows : 0, tiled_cols = N > 1 ? whole_cols : 0;
  for (Eigen::Index j = 0; j < cols; ++j)  // the rows below the tiles, and every row of the columns right of them
    for (Eigen::Index i = j < tiled_cols ? tiled_rows : 0; i < rows; ++i) dst[j + i * ldd] = src[i + j * lds];
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// dst = srcᵀ for Eigen maps or matrices with unit inner stride (column-major).
template <class Src, class Dst>
void transpose_into(const Src& src, Dst&& dst) noexcept {
  transpose_into(src.data(), src.rows(), src.cols(), src.outerStride(), dst.data(), dst.outerStride());
}

}  // namespace spindle::autodiff::detail
