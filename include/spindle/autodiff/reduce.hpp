#pragma once
// Reductions (sum, mean over everything, over rows or over columns), softmax
// and log-sum-exp. "over_rows" reduces each column (for features × batch
// values: per sample); "over_cols" reduces each row (per feature, over the batch).
#include "shape.hpp"
#include "tape.hpp"

namespace spindle::autodiff {

namespace detail {

template <class Scalar>
Var<Scalar> record_reduction(Var<Scalar> x, Eigen::Index rows, Eigen::Index cols,
                             typename Node<Scalar>::BackwardFn backward, Scalar scale = 1) {
  Tape<Scalar>& t = *x.tape;
  const int id = t.push(rows, cols, t.needs_grad(x.id));
  Node<Scalar>& n = t.node(id);
  n.input[0] = x.id;
  n.param[0] = scale;
  if (n.requires_grad) n.backward = backward;
  return {&t, id};
}

template <class Scalar>
void sum_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const auto& in = t.node(n.input[0]);
  t.accumulate(n.input[0], Matrix<Scalar>::Constant(in.rows, in.cols, n.grad[0] * n.param[0]));
}
template <class Scalar>
void sum_over_rows_backward(Tape<Scalar>& t, const Node<Scalar>& n) {  // n: 1 × c
  // Plain loops: replicating the scaled gradient would make Eigen evaluate it into a heap temporary,
  // and one Eigen column operation per value costs more than the value (one-row log-densities).
  t.accumulate_with(n.input[0], [&](MatrixMap<Scalar> g, bool add) {
    for (Eigen::Index c = 0; c < n.cols; ++c) {
      const Scalar v = n.grad[c] * n.param[0];
      for (Eigen::Index r = 0; r < g.rows(); ++r) g(r, c) = add ? g(r, c) + v : v;
    }
  });
}
template <class Scalar>
void sum_over_cols_backward(Tape<Scalar>& t, const Node<Scalar>& n) {  // n: r × 1
  const ConstMatrixMap<Scalar> scaled_rows(n.grad, n.rows, 1);
  t.accumulate_with(n.input[0], [&](MatrixMap<Scalar> g, bool add) {
    for (Eigen::Index c = 0; c < g.cols(); ++c) {
      if (add) g.col(c) += scaled_rows * n.param[0];
      else g.col(c) = scaled_rows * n.param[0];
    }
  });
}

// softmax per column: dx = y ⊙ (g − Σ_i g_i y_i)
template <class Scalar>
void softmax_over_rows_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const ConstMatrixMap<Scalar> y(n.value, n.rows, n.cols), g(n.grad, n.rows, n.cols);
  MatrixMap<Scalar> dot(t.scratch(static_cast<std::size_t>(n.cols)), 1, n.cols);
  dot = (g.array() * y.array()).colwise().sum();
  t.accumulate(n.input[0], (y.array() * (g.array() - dot.replicate(n.rows, 1).array())).matrix());
}
// logsumexp per column: dx = g ⊙ exp(x − y)
template <class Scalar>
void logsumexp_over_rows_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const auto x = t.value(n.input[0]);
  const ConstMatrixMap<Scalar> y(n.value, 1, n.cols), g(n.grad, 1, n.cols);
  t.accumulate(n.input[0], ((x.array() - y.replicate(x.rows(), 1).array()).exp() *
                            g.replicate(x.rows(), 1).array()).matrix());
}

}  // namespace detail

/// Sum of all coefficients (1×1).
template <class S>
Var<S> sum(Var<S> x) {
  auto y = detail::record_reduction(x, 1, 1, &detail::sum_backward<S>);
  y.tape->value(y.id)(0, 0) = x.value().sum();
  return y;
}
/// Mean of all coefficients (1×1).
template <class S>
Var<S> mean(Var<S> x) {
  const S scale = S(1) / static_cast<S>(x.rows() * x.cols());
  auto y = detail::record_reduction(x, 1, 1, &detail::sum_backward<S>, scale);
  y.tape->value(y.id)(0, 0) = x.value().sum() * scale;
  return y;
}
/// Sum of each column (1 × cols).
template <class S>
Var<S> sum_over_rows(Var<S> x) {
  auto y = detail::record_reduction(x, 1, x.cols(), &detail::sum_over_rows_backward<S>);
  // One row (a single action's log-density): a copy, not one reduction call per column.
  if (x.rows() == 1) y.tape->value(y.id) = x.value();
  else y.tape->value(y.id) = x.value().colwise().sum();
  return y;
}
/// Mean of each column (1 × cols).
template <class S>
Var<S> mean_over_rows(Var<S> x) {
  const S scale = S(1) / static_cast<S>(x.rows());
  auto y = detail::record_reduction(x, 1, x.cols(), &detail::sum_over_rows_backward<S>, scale);
  if (x.rows() == 1) y.tape->value(y.id) = x.value() * scale;
  else y.tape->value(y.id) = x.value().colwise().sum() * scale;
  return y;
}
/// Sum of each row (rows × 1).
template <class S>
Var<S> sum_over_cols(Var<S> x) {
  auto y = detail::record_reduction(x, x.rows(), 1, &detail::sum_over_cols_backward<S>);
  y.tape->value(y.id) = x.value().rowwise().sum();
  return y;
}
/// Mean of each row (rows × 1).
template <class S>
Var<S> mean_over_cols(Var<S> x) {
  const S scale = S(1) / static_cast<S>(x.cols());
  auto y = detail::record_reduction(x, x.rows(), 1, &detail::sum_over_cols_backward<S>, scale);
  y.tape->value(y.id) = x.value().rowwise().sum() * scale;
  return y;
}

/// Softmax of each column (each column of the result sums to 1).
template <class S>
Var<S> softmax_over_rows(Var<S> x) {
  auto y = detail::record_reduction(x, x.rows(), x.cols(), &detail::softmax_over_rows_backward<S>);
  auto out = y.tape->value(y.id);
  const auto in = x.value();
  for (Eigen::Index j = 0; j < in.cols(); ++j) {
    out.col(j) = (in.col(j).array() - in.col(j).maxCoeff()).exp();
    out.col(j) /= out.col(j).sum();
  }
  return y;
}
/// log Σ exp of each column (1 × cols), computed stably.
template <class S>
Var<S> logsumexp_over_rows(Var<S> x) {
  auto y = detail::record_reduction(x, 1, x.cols(), &detail::logsumexp_over_rows_backward<S>);
  auto out = y.tape->value(y.id);
  const auto in = x.value();
  for (Eigen::Index j = 0; j < in.cols(); ++j) {
    const S m = in.col(j).maxCoeff();
    out(0, j) = m + std::log((in.col(j).array() - m).exp().sum());
  }
  return y;
}
/// Softmax of each row ("row softmax": each row sums to 1).
template <class S>
Var<S> softmax_over_cols(Var<S> x) {
  return transpose(softmax_over_rows(transpose(x)));
}
/// log Σ exp of each row (rows × 1).
template <class S>
Var<S> logsumexp_over_cols(Var<S> x) {
  return transpose(logsumexp_over_rows(transpose(x)));
}

}  // namespace spindle::autodiff
