#pragma once
// Matrix product and the fused dense layer y = f(W x + b).
#include <algorithm>

#include "activation.hpp"
#include "small_gemm.hpp"
#include "tape.hpp"
#include "transpose.hpp"

namespace spindle::autodiff {

namespace detail {

// out (= or +=) A · X, or A · Xᵀ: the register-blocked SmallGemm where it applies (A · X with a
// few columns, as in acting, whatever A's size), else Eigen. A and X are contiguous column-major maps.
template <class S, class MapA, class MapX>
void gemm_into(MatrixMap<S> out, bool accumulate, const MapA& A, const MapX& X, bool transpose_x) {
  const Eigen::Index m = out.rows(), n = out.cols(), k = A.cols();
  if (transpose_x ? SmallGemm<S>::applies(m, n, k) : SmallGemm<S>::applies_forward(m, n, k)) {
    const Eigen::Index brs = transpose_x ? X.rows() : 1, bcs = transpose_x ? 1 : X.rows();
    if (accumulate) SmallGemm<S>::template run<true>(m, n, k, A.data(), m, X.data(), brs, bcs, out.data(), m);
    else SmallGemm<S>::template run<false>(m, n, k, A.data(), m, X.data(), brs, bcs, out.data(), m);
  } else if (transpose_x) {
    product_into(out, accumulate, A, X.transpose());
  } else {
    product_into(out, accumulate, A, X);
  }
}

/// C (m × n, leading dimension ldc) (= or +=) A (m × k, lda) · op(B), B k × n with leading
/// dimension ldb, or its transpose (stored n × k). SmallGemm where it applies (in chunks of at
/// most its maximum size over the columns and the inner dimension), else Eigen's GEMM on
/// strided maps (no allocation).
template <class S>
void strided_gemm(S* c, Eigen::Index ldc, const S* a, Eigen::Index lda, const S* b, Eigen::Index ldb, bool transpose_b,
                  Eigen::Index m, Eigen::Index n, Eigen::Index k, bool accumulate) {
  constexpr Eigen::Index chunk = SmallGemm<S>::max_dimension;
  if (m == 0 || n == 0) return;
  if (SmallGemm<S>::applies(m, std::min(n, chunk), std::min(k, chunk))) {
    const Eigen::Index brs = transpose_b ? ldb : 1, bcs = transpose_b ? 1 : ldb;
    for (Eigen::Index j = 0; j < n; j += chunk) {
      const Eigen::Index cols = std::min(chunk, n - j);
      for (Eigen::Index p = 0; p < k; p += chunk) {
        const Eigen::Index depth = std::min(chunk, k - p);
        const S* ap = a + p * lda;
        const S* bp = b + j * bcs + p * brs;
        if (accumulate || p > 0) SmallGemm<S>::template run<true>(m, cols, depth, ap, lda, bp, brs, bcs, c + j * ldc, ldc);
        else SmallGemm<S>::template run<false>(m, cols, depth, ap, lda, bp, brs, bcs, c + j * ldc, ldc);
      }
    }
    return;
  }
  using Map = Eigen::Map<Matrix<S>, 0, Eigen::OuterStride<>>;
  using ConstMap = Eigen::Map<const Matrix<S>, 0, Eigen::OuterStride<>>;
  Map C(c, m, n, Eigen::OuterStride<>(ldc));
  const ConstMap A(a, m, k, Eigen::OuterStride<>(lda));
  if (k == 0) {
    if (!accumulate) C.setZero();
  } else if (transpose_b) {
    product_into(C, accumulate, A, ConstMap(b, n, k, Eigen::OuterStride<>(ldb)).transpose());
  } else {
    product_into(C, accumulate, A, ConstMap(b, k, n, Eigen::OuterStride<>(ldb)));
  }
}

template <class Scalar>
void matmul_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const ConstMatrixMap<Scalar> g(n.grad, n.rows, n.cols);
  if (t.needs_grad(n.input[0])) t.accumulate_product(n.input[0], g * t.value(n.input[1]).transpose());
  if (t.needs_grad(n.input[1])) t.accumulate_product(n.input[1], t.value(n.input[0]).transpose() * g);
}

template <class Scalar>
void matmul_tn_backward(Tape<Scalar>& t, const Node<Scalar>& n) {  // y = aᵀ b: ∂a = b gᵀ, ∂b = a g
  const ConstMatrixMap<Scalar> g(n.grad, n.rows, n.cols);
  if (t.needs_grad(n.input[0]))  // b gᵀ: the weight-gradient shape, through SmallGemm where it applies
    t.accumulate_with(n.input[0],
                      [&](MatrixMap<Scalar> out, bool acc) { gemm_into<Scalar>(out, acc, t.value(n.input[1]), g, true); });
  if (t.needs_grad(n.input[1])) t.accumulate_product(n.input[1], t.value(n.input[0]) * g);
}

// In place: G ← G ⊙ f'(z), from the output y (and the pre-activation z where f' needs it).
template <class Scalar>
void activation_backward_inplace(const Node<Scalar>& n, Activation act) {
  auto G = MatrixMap<Scalar>(n.grad, n.rows, n.cols).array();
  const auto Y = ConstMatrixMap<Scalar>(n.value, n.rows, n.cols).array();
  switch (act) {
    case Activation::identity: break;
    case Activation::tanh: G = TanhOp::grad(n, Y, Y, G); break;
    case Activation::relu: G = ReluOp::grad(n, Y, Y, G); break;  // y > 0 ⇔ z > 0
    case Activation::elu: G = EluOp::grad(n, Y, Y, G); break;    // likewise, and f' uses y
    case Activation::sigmoid: G = SigmoidOp::grad(n, Y, Y, G); break;
    case Activation::gelu:
    case Activation::softplus: {
      const auto Z = ConstMatrixMap<Scalar>(n.aux, n.rows, n.cols).array();
      if (act == Activation::gelu)
        G = GeluOp::grad(n, Z, Y, G);
      else
        G = SoftplusOp::grad(n, Z, Y, G);
      break;
    }
  }
}

// In place: Y ← f(Y) for the node n of Y, keeping the pre-activation in n.aux where the
// backward pass needs it (activation_backward_inplace).
template <class Scalar>
void activate_inplace(Tape<Scalar>& t, Node<Scalar>& n, MatrixMap<Scalar> Y, Activation act) {
  if (n.requires_grad && (act == Activation::gelu || act == Activation::softplus)) {
    n.aux = t.scratch(static_cast<std::size_t>(Y.size()));
    MatrixMap<Scalar>(n.aux, Y.rows(), Y.cols()) = Y;
  }
  auto A = Y.array();
  switch (act) {
    case Activation::identity: break;
    case Activation::tanh: TanhOp::forward(n, A, A); break;
    case Activation::relu: ReluOp::forward(n, A, A); break;
    case Activation::elu: n.param[0] = Scalar(1); EluOp::forward(n, A, A); break;
    case Activation::gelu: GeluOp::forward(n, A, A); break;
    case Activation::softplus: SoftplusOp::forward(n, A, A); break;
    case Activation::sigmoid: SigmoidOp::forward(n, A, A); break;
  }
}

template <class Scalar>
void linear_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  activation_backward_inplace(n, static_cast<Activation>(n.tag));
  const ConstMatrixMap<Scalar> G(n.grad, n.rows, n.cols);
  const int x = n.input[0], w = n.input[1], b = n.input[2];
  if (t.needs_grad(w))
    t.accumulate_with(w, [&](MatrixMap<Scalar> g, bool acc) { gemm_into<Scalar>(g, acc, G, t.value(x), true); });
  if (t.needs_grad(b)) t.accumulate(b, G.rowwise().sum());
  if (t.needs_grad(x)) {
    const auto W = t.value(w);
    // Wᵀ G through SmallGemm needs Wᵀ in memory; the copy pays off from a few columns on.
    if (G.cols() >= 8 && SmallGemm<Scalar>::applies(W.cols(), G.cols(), W.rows())) {
      MatrixMap<Scalar> WT(t.scratch(static_cast<std::size_t>(W.size())), W.cols(), W.rows());
      transpose_into(W, WT);
      t.accumulate_with(x, [&](MatrixMap<Scalar> g, bool acc) { gemm_into<Scalar>(g, acc, WT, G, false); });
    } else {
      t.accumulate_product(x, W.transpose() * G);
    }
  }
}

}  // namespace detail

/// Matrix product a · b.
template <class S>
Var<S> matmul(Var<S> a, Var<S> b) {
  if (a.cols() != b.rows())
    throw shape_error("matmul: shapes " + spindle::detail::shape_string(a.rows(), a.cols()) + " and " +
                      spindle::detail::shape_string(b.rows(), b.cols()) + " do not multiply");
  Tape<S>& t = *a.tape;
  const int id = t.push(a.rows(), b.cols(), t.needs_grad(a.id) || t.needs_grad(b.id));
  Node<S>& n = t.node(id);
  n.input[0] = a.id;
  n.input[1] = b.id;
  if (n.requires_grad) n.backward = &detail::matmul_backward<S>;
  detail::product_into(t.value(id), false, t.value(a.id), t.value(b.id));
  return {&t, id};
}

/// aᵀ · b without forming aᵀ (a: k × m, b: k × n).
template <class S>
Var<S> matmul_tn(Var<S> a, Var<S> b) {
  if (a.rows() != b.rows())
    throw shape_error("matmul_tn: shapes " + spindle::detail::shape_string(a.rows(), a.cols()) + " (transposed) and " +
                      spindle::detail::shape_string(b.rows(), b.cols()) + " do not multiply");
  Tape<S>& t = *a.tape;
  const int id = t.push(a.cols(), b.cols(), t.needs_grad(a.id) || t.needs_grad(b.id));
  Node<S>& n = t.node(id);
  n.input[0] = a.id;
  n.input[1] = b.id;
  if (n.requires_grad) n.backward = &detail::matmul_tn_backward<S>;
  detail::product_into(t.value(id), false, t.value(a.id).transpose(), t.value(b.id));
  return {&t, id};
}

/// y = f(W x + b) in one node: x is in × batch, W out × in, b out × 1.
/// The product, the bias and the activation are separate vectorised passes.
template <class S>
Var<S> linear(Var<S> x, Var<S> W, Var<S> b, Activation act = Activation::identity) {
  if (W.cols() != x.rows())
    throw shape_error("linear: input has shape " + spindle::detail::shape_string(x.rows(), x.cols()) +
                      ", expected (" + std::to_string(W.cols()) + ", batch) for a weight of shape " +
                      spindle::detail::shape_string(W.rows(), W.cols()));
  if (b.rows() != W.rows() || b.cols() != 1)
    throw_shape_error("linear", "bias", W.rows(), 1, b.rows(), b.cols());
  Tape<S>& t = *x.tape;
  const int id = t.push(W.rows(), x.cols(), t.needs_grad(x.id) || t.needs_grad(W.id) || t.needs_grad(b.id));
  Node<S>& n = t.node(id);
  n.input[0] = x.id;
  n.input[1] = W.id;
  n.input[2] = b.id;
  n.tag = static_cast<int>(act);
  if (n.requires_grad) n.backward = &detail::linear_backward<S>;
  auto Y = t.value(id);
  const auto Wv = t.value(W.id), xv = t.value(x.id);
  const Eigen::Index m = Y.rows(), batch = Y.cols(), k = Wv.cols();
  using Kernel = detail::SmallGemm<S>;
  if (Kernel::applies_forward(m, batch, k)) {  // as gemm_into decides, so the bits match
    // Bias (and a ReLU) added to the product in registers: Y written once.
    const bool relu = act == Activation::relu;
    Kernel::run_dense(m, batch, k, Wv.data(), m, xv.data(), 1, k, Y.data(), m, t.value(b.id).data(), relu);
    if (!relu) detail::activate_inplace(t, n, Y, act);
    return {&t, id};
  }
  // Bias first, then accumulate the product: Eigen's GEMM then skips its zero fill of Y.
  Y.colwise() = t.value(b.id).col(0);
  detail::gemm_into<S>(Y, true, Wv, xv, false);
  detail::activate_inplace(t, n, Y, act);
  return {&t, id};
}

}  // namespace spindle::autodiff
