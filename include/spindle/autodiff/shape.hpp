#pragma once
// Shape operations: row and column slices, concatenation, transpose, reshape, per-column block transpose.
#include <algorithm>
#include <string>

#include "tape.hpp"

namespace spindle::autodiff {

namespace detail {

/// Adds `g` into the block of input `id`'s gradient at (r0, c0); zero-fills the rest on first write.
template <class Scalar, class Expr>
void accumulate_block(Tape<Scalar>& t, int id, Eigen::Index r0, Eigen::Index c0, const Expr& g) {
  if (!t.needs_grad(id)) return;
  auto& n = t.node(id);
  auto full = t.grad(id);
  if (!n.external_grad && !n.grad_written) {
    full.setZero();
    n.grad_written = true;
  }
  full.block(r0, c0, g.rows(), g.cols()) += g;
}

template <class Scalar>
void slice_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  accumulate_block(t, n.input[0], n.index[0], n.index[1], ConstMatrixMap<Scalar>(n.grad, n.rows, n.cols));
}
template <class Scalar>
void concat_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const ConstMatrixMap<Scalar> g(n.grad, n.rows, n.cols);
  const auto& a = t.node(n.input[0]);
  const auto& b = t.node(n.input[1]);
  if (n.tag == 0) {  // stacked rows
    t.accumulate(n.input[0], g.topRows(a.rows));
    t.accumulate(n.input[1], g.bottomRows(b.rows));
  } else {
    t.accumulate(n.input[0], g.leftCols(a.cols));
    t.accumulate(n.input[1], g.rightCols(b.cols));
  }
}
template <class Scalar>
void transpose_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  t.accumulate(n.input[0], ConstMatrixMap<Scalar>(n.grad, n.rows, n.cols).transpose());
}

template <class Scalar>
Var<Scalar> slice(Var<Scalar> x, Eigen::Index r0, Eigen::Index c0, Eigen::Index rows, Eigen::Index cols,
                  const char* what) {
  if (r0 < 0 || c0 < 0 || rows < 0 || cols < 0 || r0 + rows > x.rows() || c0 + cols > x.cols())
    throw shape_error(std::string(what) + ": block at (" + std::to_string(r0) + ", " + std::to_string(c0) +
                      ") of shape " + spindle::detail::shape_string(rows, cols) + " is outside a value of shape " +
                      spindle::detail::shape_string(x.rows(), x.cols()));
  Tape<Scalar>& t = *x.tape;
  const int id = t.push(rows, cols, t.needs_grad(x.id));
  Node<Scalar>& n = t.node(id);
  n.input[0] = x.id;
  n.index[0] = r0;
  n.index[1] = c0;
  if (n.requires_grad) n.backward = &slice_backward<Scalar>;
  t.value(id) = t.value(x.id).block(r0, c0, rows, cols);
  return {&t, id};
}

}  // namespace detail

/// Rows [start, start + count) — e.g. a slice of features.
template <class S>
Var<S> slice_rows(Var<S> x, Eigen::Index start, Eigen::Index count) {
  return detail::slice(x, start, 0, count, x.cols(), "slice_rows");
}
/// Columns [start, start + count) — e.g. a slice of the batch.
template <class S>
Var<S> slice_cols(Var<S> x, Eigen::Index start, Eigen::Index count) {
  return detail::slice(x, 0, start, x.rows(), count, "slice_cols");
}

namespace detail {
template <class S>
Var<S> concat(Var<S> a, Var<S> b, bool stack_rows) {
  Tape<S>& t = *a.tape;
  const int id = stack_rows ? t.push(a.rows() + b.rows(), a.cols(), t.needs_grad(a.id) || t.needs_grad(b.id))
                            : t.push(a.rows(), a.cols() + b.cols(), t.needs_grad(a.id) || t.needs_grad(b.id));
  Node<S>& n = t.node(id);
  n.input[0] = a.id;
  n.input[1] = b.id;
  n.tag = stack_rows ? 0 : 1;
  if (n.requires_grad) n.backward = &concat_backward<S>;
  auto y = t.value(id);
  if (stack_rows) {
    y.topRows(a.rows()) = t.value(a.id);
    y.bottomRows(b.rows()) = t.value(b.id);
  } else {
    y.leftCols(a.cols()) = t.value(a.id);
    y.rightCols(b.cols()) = t.value(b.id);
  }
  return {&t, id};
}
}  // namespace detail

/// [a; b]: a on top of b (same number of columns).
template <class S>
Var<S> concat_rows(Var<S> a, Var<S> b) {
  if (a.cols() != b.cols()) throw_shape_error("concat_rows", "b", b.rows(), a.cols(), b.rows(), b.cols());
  return detail::concat(a, b, true);
}

/// [a, b]: a left of b (same number of rows).
template <class S>
Var<S> concat_cols(Var<S> a, Var<S> b) {
  if (a.rows() != b.rows()) throw_shape_error("concat_cols", "b", a.rows(), b.cols(), b.rows(), b.cols());
  return detail::concat(a, b, false);
}

template <class S>
Var<S> transpose(Var<S> x) {
  Tape<S>& t = *x.tape;
  const int id = t.push(x.cols(), x.rows(), t.needs_grad(x.id));
  Node<S>& n = t.node(id);
  n.input[0] = x.id;
  if (n.requires_grad) n.backward = &detail::transpose_backward<S>;
  t.value(id) = t.value(x.id).transpose();
  return {&t, id};
}

namespace detail {
template <class Scalar>
void reshape_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const auto& x = t.node(n.input[0]);
  t.accumulate(n.input[0], ConstMatrixMap<Scalar>(n.grad, x.rows, x.cols));
}
// Column j of x holds an a × b column-major matrix; column j of y holds its b × a transpose.
template <class Scalar, class In, class Out>
void transpose_each_column(const In& x, Out& y, Eigen::Index a, Eigen::Index b) {
  for (Eigen::Index j = 0; j < x.cols(); ++j)
    for (Eigen::Index c = 0; c < b; ++c)
      for (Eigen::Index r = 0; r < a; ++r) y(r * b + c, j) = x(c * a + r, j);
}
template <class Scalar>
void transpose_blocks_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  if (!t.needs_grad(n.input[0])) return;
  Node<Scalar>& xn = t.node(n.input[0]);
  MatrixMap<Scalar> dx(xn.grad, xn.rows, xn.cols);
  if (!xn.external_grad && !xn.grad_written) dx.setZero();
  const ConstMatrixMap<Scalar> g(n.grad, n.rows, n.cols);
  // y(r·b + c) = x(c·a + r), so dx(c·a + r) += g(r·b + c).
  for (Eigen::Index j = 0; j < g.cols(); ++j)
    for (Eigen::Index c = 0; c < n.index[1]; ++c)
      for (Eigen::Index r = 0; r < n.index[0]; ++r) dx(c * n.index[0] + r, j) += g(r * n.index[1] + c, j);
  xn.grad_written = true;
}
}  // namespace detail

/// The same values, column-major, read as rows × cols (e.g. a (T·F) × B batch of windows as
/// F × (T·B) steps, so one per-step layer runs over every step of every sample).
template <class S>
Var<S> reshape(Var<S> x, Eigen::Index rows, Eigen::Index cols) {
  if (rows < 0 || cols < 0 || rows * cols != x.rows() * x.cols())
    throw shape_error("reshape: a value of shape " + spindle::detail::shape_string(x.rows(), x.cols()) +
                      " cannot be read as " + spindle::detail::shape_string(rows, cols));
  Tape<S>& t = *x.tape;
  const int id = t.push(rows, cols, t.needs_grad(x.id));
  Node<S>& n = t.node(id);
  n.input[0] = x.id;
  if (n.requires_grad) n.backward = &detail::reshape_backward<S>;
  const auto xv = t.value(x.id);
  auto y = t.value(id);
  std::copy(xv.data(), xv.data() + xv.size(), y.data());
  return {&t, id};
}

/// Per column, the a × b column-major matrix it holds, transposed to b × a: turns a window
/// stored step-major (row t·F + f, a = F, b = T) into channel-major (row f·T + t), which is
/// what conv1d reads, and back.
template <class S>
Var<S> transpose_blocks(Var<S> x, Eigen::Index a, Eigen::Index b) {
  if (a <= 0 || b <= 0 || a * b != x.rows())
    throw shape_error("transpose_blocks: columns of " + std::to_string(x.rows()) + " rows do not hold " +
                      std::to_string(a) + " × " + std::to_string(b) + " blocks");
  Tape<S>& t = *x.tape;
  const int id = t.push(x.rows(), x.cols(), t.needs_grad(x.id));
  Node<S>& n = t.node(id);
  n.input[0] = x.id;
  n.index[0] = a;
  n.index[1] = b;
  if (n.requires_grad) n.backward = &detail::transpose_blocks_backward<S>;
  auto y = t.value(id);
  detail::transpose_each_column<S>(t.value(x.id), y, a, b);
  return {&t, id};
}

}  // namespace spindle::autodiff
