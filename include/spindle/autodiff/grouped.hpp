#pragma once
// Grouped (block-diagonal) dense layer: G independent layers side by side in one node.
//
// x holds G groups of `in` rows stacked ((G·in) × B); group g's output is f(W_g x_g + b_g),
// stacked the same way ((G·out) × B). W is out × (G·in) with W_g in columns [g·in, (g+1)·in),
// b is (G·out) × 1. It runs one small GEMM per group on strided views — no copies, no
// block-diagonal zeros — which is how DMAP's per-actuator controllers (one small MLP per
// actuator) and their per-actuator action heads run as one batched product.
#include <algorithm>

#include "linalg.hpp"

namespace spindle::autodiff {

namespace detail {

template <class Scalar>
void grouped_linear_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  activation_backward_inplace(n, static_cast<Activation>(n.tag));
  const int x = n.input[0], w = n.input[1], b = n.input[2];
  const Eigen::Index G = n.index[0], B = n.cols;
  const Eigen::Index out = n.rows / G, in = t.node(w).cols / G;
  const Scalar* grad = n.grad;
  if (t.needs_grad(w))  // ∂W_g = G_g x_gᵀ
    t.accumulate_with(w, [&](MatrixMap<Scalar> dW, bool acc) {
      const Scalar* xv = t.node(x).value;
      for (Eigen::Index g = 0; g < G; ++g)
        strided_gemm<Scalar>(dW.data() + g * in * out, out, grad + g * out, n.rows, xv + g * in, G * in, true, out, in, B,
                             acc);
    });
  if (t.needs_grad(b)) t.accumulate(b, ConstMatrixMap<Scalar>(grad, n.rows, B).rowwise().sum());
  if (t.needs_grad(x))  // ∂x_g = W_gᵀ G_g
    t.accumulate_with(x, [&](MatrixMap<Scalar> dx, bool acc) {
      const auto W = t.value(w);
      for (Eigen::Index g = 0; g < G; ++g) {
        Eigen::Map<Matrix<Scalar>, 0, Eigen::OuterStride<>> dxg(dx.data() + g * in, in, B, Eigen::OuterStride<>(G * in));
        const Eigen::Map<const Matrix<Scalar>, 0, Eigen::OuterStride<>> Gg(grad + g * out, out, B,
                                                                           Eigen::OuterStride<>(n.rows));
        product_into(dxg, acc, W.middleCols(g * in, in).transpose(), Gg);
      }
    });
}

}  // namespace detail

/// G dense layers on G stacked inputs in one node: y_g = f(W_g x_g + b_g) (see the file comment).
template <class S>
Var<S> grouped_linear(Var<S> x, Var<S> W, Var<S> b, Eigen::Index groups, Activation act = Activation::identity) {
  if (groups <= 0 || W.cols() % groups != 0)
    throw shape_error("grouped_linear: a weight of shape " + spindle::detail::shape_string(W.rows(), W.cols()) +
                      " does not hold " + std::to_string(groups) + " groups side by side");
  if (x.rows() != W.cols())
    throw shape_error("grouped_linear: input has shape " + spindle::detail::shape_string(x.rows(), x.cols()) +
                      ", expected (" + std::to_string(W.cols()) + ", batch): " + std::to_string(groups) + " groups of " +
                      std::to_string(W.cols() / groups) + " rows");
  if (b.rows() != groups * W.rows() || b.cols() != 1)
    throw_shape_error("grouped_linear", "bias", groups * W.rows(), 1, b.rows(), b.cols());
  Tape<S>& t = *x.tape;
  const Eigen::Index out = W.rows(), in = W.cols() / groups, B = x.cols();
  const int id = t.push(groups * out, B, t.needs_grad(x.id) || t.needs_grad(W.id) || t.needs_grad(b.id));
  Node<S>& n = t.node(id);
  n.input[0] = x.id;
  n.input[1] = W.id;
  n.input[2] = b.id;
  n.index[0] = groups;
  n.tag = static_cast<int>(act);
  if (n.requires_grad) n.backward = &detail::grouped_linear_backward<S>;
  auto Y = t.value(id);
  Y.colwise() = t.value(b.id).col(0);
  const S* wv = t.node(W.id).value;
  const S* xv = t.node(x.id).value;
  for (Eigen::Index g = 0; g < groups; ++g)
    detail::strided_gemm<S>(Y.data() + g * out, Y.rows(), wv + g * in * out, out, xv + g * in, x.rows(), false, out, B,
                            in, true);
  detail::activate_inplace(t, n, Y, act);
  return {&t, id};
}

}  // namespace spindle::autodiff
