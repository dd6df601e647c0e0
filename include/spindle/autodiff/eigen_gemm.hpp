#pragma once
// C (=|+=) op(A) · op(B) with Eigen's own dispatch and kernels — the same bits as
// `C.noalias() (+)= op(A) * op(B)` — but without heap allocation.
//
// Why: Eigen's general GEMM packs its operands into a workspace of kc·mc + kc·nc scalars that it
// puts on the stack below EIGEN_STACK_ALLOCATION_LIMIT (128 KB) and on the heap above, so a
// product with k·n above 32k floats (a 256-wide layer on a batch of 256, Lattice's per-sample
// variances) allocated on every call. Here the blocking sizes are Eigen's (computed by the same
// gemm_blocking_space) and the workspace is a per-thread buffer that grows once.
//
// Operands: column-major direct-access expressions (Matrix, Map, Block with unit inner stride)
// or the Transpose of one. Written against Eigen 3.4's internal GEMM interface.
#include <Eigen/Core>
#include <cstddef>
#include <type_traits>

static_assert(EIGEN_VERSION_AT_LEAST(3, 4, 0), "spindle's GEMM workspace uses the Eigen 3.4 GEMM interface");

namespace spindle::autodiff::detail {

template <class X>
struct gemm_operand {  // a column-major operand used as is
  static constexpr bool transposed = false;
  static const X& plain(const X& x) { return x; }
};
template <class X>
struct gemm_operand<Eigen::Transpose<X>> {  // the transpose of one: read row-major
  static constexpr bool transposed = true;
  static const auto& plain(const Eigen::Transpose<X>& x) { return x.nestedExpression(); }
};

/// A per-thread packing workspace of at least n scalars, 64-byte aligned; grows, never shrinks.
template <class S>
S* gemm_workspace(std::size_t n) {
  static thread_local Eigen::Matrix<S, Eigen::Dynamic, 1> buffer;
  if (static_cast<std::size_t>(buffer.size()) < n) buffer.resize(static_cast<Eigen::Index>(n));
  return buffer.data();
}

// Eigen's blocking for an m × n × k product, with its packing buffers pointed at the workspace.
template <class S>
class WorkspaceBlocking : public Eigen::internal::gemm_blocking_space<Eigen::ColMajor, S, S, Eigen::Dynamic,
                                                                      Eigen::Dynamic, Eigen::Dynamic, 1, false> {
  using Base = Eigen::internal::gemm_blocking_space<Eigen::ColMajor, S, S, Eigen::Dynamic, Eigen::Dynamic,
                                                    Eigen::Dynamic, 1, false>;

 public:
  WorkspaceBlocking(Eigen::Index m, Eigen::Index n, Eigen::Index k) : Base(m, n, k, 1, true) {
    constexpr std::size_t align = 64 / sizeof(S);
    const auto size_a = static_cast<std::size_t>(this->mc() * this->kc());
    const auto size_b = static_cast<std::size_t>(this->kc() * this->nc());
    const std::size_t offset_b = (size_a + align - 1) / align * align;
    S* w = gemm_workspace<S>(offset_b + size_b);
    this->m_blockA = w;
    this->m_blockB = w + offset_b;
  }
  ~WorkspaceBlocking() { this->m_blockA = this->m_blockB = nullptr; }  // not Eigen's to free
  WorkspaceBlocking(const WorkspaceBlocking&) = delete;
  WorkspaceBlocking& operator=(const WorkspaceBlocking&) = delete;
};

/// C (= or +=) lhs · rhs. C: a column-major matrix, map or block with unit inner stride.
template <class Dst, class Lhs, class Rhs>
void product_into(Dst&& C, bool accumulate, const Lhs& lhs, const Rhs& rhs) {
  using S = typename std::remove_reference_t<Dst>::Scalar;
  const Eigen::Index m = lhs.rows(), n = rhs.cols(), k = lhs.cols();
  // Eigen's own choices first: a coefficient-wise product for tiny sizes, GEMV for a vector
  // result (neither allocates beyond its stack limit); only the blocked GEMM is replaced.
  const bool lazy = k + m + n < EIGEN_GEMM_TO_COEFFBASED_THRESHOLD && k > 0;
  if (lazy || m == 1 || n == 1 || k == 0) {
    if (accumulate) C.noalias() += lhs * rhs;
    else C.noalias() = lhs * rhs;
    return;
  }
  using L = gemm_operand<Lhs>;
  using R = gemm_operand<Rhs>;
  const auto& a = L::plain(lhs);
  const auto& b = R::plain(rhs);
  static_assert(!(std::remove_reference_t<decltype(a)>::Flags & Eigen::RowMajorBit) &&
                    !(std::remove_reference_t<decltype(b)>::Flags & Eigen::RowMajorBit) &&
                    !(std::remove_reference_t<Dst>::Flags & Eigen::RowMajorBit),
                "product_into: column-major operands (or their transposes) only");
  eigen_assert(a.innerStride() == 1 && b.innerStride() == 1 && C.innerStride() == 1);
  if (!accumulate) C.setZero();
  WorkspaceBlocking<S> blocking(m, n, k);
  Eigen::internal::general_matrix_matrix_product<Eigen::Index, S, L::transposed ? Eigen::RowMajor : Eigen::ColMajor,
                                                 false, S, R::transposed ? Eigen::RowMajor : Eigen::ColMajor, false,
                                                 Eigen::ColMajor, 1>::run(m, n, k, a.data(), a.outerStride(),
                                                                          b.data(), b.outerStride(), C.data(), 1,
                                                                          C.outerStride(), S(1), blocking, nullptr);
}

}  // namespace spindle::autodiff::detail
