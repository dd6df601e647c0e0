#pragma once
// Reverse-mode automatic differentiation over Eigen matrices: a tape of nodes.
//
// Convention: a value is a column-major matrix, features × batch (one sample per
// column), so a row-major (batch × features) observation buffer is used as is.
//
// Each operation computes its value when it is called (eager forward) and
// records a node: its inputs, a pointer to its backward function and buffers
// for its value and gradient taken from an Arena. clear() rewinds the tape and
// the arena; a pass with the same shapes then reuses the same buffers, so the
// steady state allocates nothing. backward() walks the nodes in reverse, one
// indirect call per node; the math inside is Eigen's vectorised kernels.
// Gradients of parameters accumulate into their external buffers (zero them
// with Parameters::zero_grad()); gradients of tape nodes are written on first
// contribution and accumulated after, so they never need a zeroing pass.
#include <Eigen/Core>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/errors.hpp"
#include "arena.hpp"
#include "eigen_gemm.hpp"

namespace spindle::autodiff {

template <class Scalar>
class Tape;

template <class Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <class Scalar>
using MatrixMap = Eigen::Map<Matrix<Scalar>, Eigen::Aligned16>;
template <class Scalar>
using ConstMatrixMap = Eigen::Map<const Matrix<Scalar>, Eigen::Aligned16>;

/// One recorded operation.
template <class Scalar>
struct Node {
  using BackwardFn = void (*)(Tape<Scalar>&, const Node&);
  BackwardFn backward = nullptr;  // null for leaves and for nodes whose inputs need no gradient
  Scalar* value = nullptr;
  Scalar* grad = nullptr;  // null when no gradient flows here
  Scalar* aux = nullptr;   // extra buffer an operation may keep for its backward pass
  Eigen::Index rows = 0, cols = 0;
  int input[4] = {-1, -1, -1, -1};
  Scalar param[2] = {0, 0};           // scalar settings (clamp bounds, scale, ...)
  Eigen::Index index[2] = {0, 0};     // integer settings (slice offsets, ...)
  int tag = 0;                        // operation-specific choice (activation, ...)
  bool requires_grad = false;
  bool external_grad = false;         // grad points at a parameter's buffer: always accumulate
  mutable bool grad_written = false;  // set once a gradient contribution has arrived
};

/// A handle to a value on a tape.
template <class Scalar>
struct Var {
  Tape<Scalar>* tape = nullptr;
  int id = -1;

  Eigen::Index rows() const { return tape->node(id).rows; }
  Eigen::Index cols() const { return tape->node(id).cols; }
  ConstMatrixMap<Scalar> value() const {
    const auto& n = tape->node(id);
    return {n.value, n.rows, n.cols};
  }
  /// The gradient after backward(); zero if nothing flowed into this value.
  Matrix<Scalar> grad() const { return tape->grad_or_zero(id); }
  bool requires_grad() const { return tape->node(id).requires_grad; }
};

template <class Scalar>
class Tape {
 public:
  using NodeT = Node<Scalar>;

  Tape() : generation_(next_generation()) { nodes_.reserve(256); }
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // --- leaves
  /// A constant copied onto the tape.
  template <class Derived>
  Var<Scalar> constant(const Eigen::MatrixBase<Derived>& m) {
    const int id = push(m.rows(), m.cols(), false);
    value(id) = m.template cast<Scalar>();
    return {this, id};
  }
  /// A leaf whose gradient is wanted (inputs of a gradient check, latent features, ...).
  template <class Derived>
  Var<Scalar> variable(const Eigen::MatrixBase<Derived>& m) {
    const int id = push(m.rows(), m.cols(), grad_enabled_);
    value(id) = m.template cast<Scalar>();
    return {this, id};
  }
  /// A zero-copy constant leaf over caller memory that outlives this pass (column-major).
  Var<Scalar> view(const Scalar* data, Eigen::Index rows, Eigen::Index cols) {
    NodeT& n = nodes_.emplace_back();
    n.value = const_cast<Scalar*>(data);  // never written: the node has no backward and no grad
    n.rows = rows;
    n.cols = cols;
    return {this, static_cast<int>(nodes_.size()) - 1};
  }
  /// A parameter leaf: value and gradient live in the caller's (module's) buffers.
  Var<Scalar> parameter(Scalar* value_data, Scalar* grad_data, Eigen::Index rows, Eigen::Index cols) {
    NodeT& n = nodes_.emplace_back();
    n.value = value_data;
    n.rows = rows;
    n.cols = cols;
    if (grad_enabled_ && grad_data) {
      n.grad = grad_data;
      n.requires_grad = true;
      n.external_grad = true;
    }
    return {this, static_cast<int>(nodes_.size()) - 1};
  }

  // --- running the tape
  /// Back-propagates from a 1×1 value; parameter gradients accumulate.
  void backward(Var<Scalar> loss) {
    check_shape(value(loss.id), 1, 1, "Tape::backward", "the loss");
    NodeT& l = nodes_[static_cast<std::size_t>(loss.id)];
    if (!l.requires_grad) return;
    if (l.external_grad)
      l.grad[0] += Scalar(1);
    else
      l.grad[0] = Scalar(1);
    l.grad_written = true;
    for (int i = loss.id; i >= 0; --i) {
      const NodeT& n = nodes_[static_cast<std::size_t>(i)];
      if (n.backward && n.grad_written) n.backward(*this, n);
    }
  }

  /// Forgets every node and rewinds the arena (buffers are kept for the next pass).
  void clear() noexcept {
    nodes_.clear();
    arena_.rewind();
    generation_ = next_generation();
  }
  /// Unique per tape and per clear(), process-wide: (generation, node id) names one node, even when a
  /// new tape reuses a destroyed one's address (for caches of nodes).
  std::uint64_t generation() const noexcept { return generation_; }

  /// With gradients off, nothing is recorded for backward (acting, evaluation).
  void set_grad_enabled(bool enabled) noexcept { grad_enabled_ = enabled; }
  bool grad_enabled() const noexcept { return grad_enabled_; }

  std::size_t size() const noexcept { return nodes_.size(); }
  const NodeT& node(int id) const { return nodes_[static_cast<std::size_t>(id)]; }
  NodeT& node(int id) { return nodes_[static_cast<std::size_t>(id)]; }
  MatrixMap<Scalar> value(int id) {
    const NodeT& n = node(id);
    return {n.value, n.rows, n.cols};
  }
  ConstMatrixMap<Scalar> value(int id) const {
    const NodeT& n = node(id);
    return {n.value, n.rows, n.cols};
  }
  MatrixMap<Scalar> grad(int id) {
    const NodeT& n = node(id);
    return {n.grad, n.rows, n.cols};
  }
  Matrix<Scalar> grad_or_zero(int id) const {
    const NodeT& n = node(id);
    if (!n.grad || !n.grad_written) return Matrix<Scalar>::Zero(n.rows, n.cols);
    return ConstMatrixMap<Scalar>(n.grad, n.rows, n.cols);
  }

  // --- for operations
  /// Records a node of the given shape; allocates its value (and gradient when needed).
  int push(Eigen::Index rows, Eigen::Index cols, bool requires_grad) {
    Scalar* value_data = arena_.allocate(static_cast<std::size_t>(rows * cols));
    const bool needs = requires_grad && grad_enabled_;
    Scalar* grad_data = needs ? arena_.allocate(static_cast<std::size_t>(rows * cols)) : nullptr;
    NodeT& n = nodes_.emplace_back();
    n.rows = rows;
    n.cols = cols;
    n.value = value_data;
    n.requires_grad = needs;
    n.grad = grad_data;
    return static_cast<int>(nodes_.size()) - 1;
  }
  /// An extra buffer of n scalars living until clear().
  Scalar* scratch(std::size_t n) { return arena_.allocate(n); }

  /// Adds `contribution` to the gradient of node `id` (assigns on the first one).
  template <class Derived>
  void accumulate(int id, const Eigen::MatrixBase<Derived>& contribution) {
    NodeT& n = node(id);
    if (!n.requires_grad) return;
    MatrixMap<Scalar> g(n.grad, n.rows, n.cols);
    if (n.external_grad || n.grad_written)
      g += contribution;
    else
      g = contribution;
    n.grad_written = true;
  }
  /// Same, with `product` evaluated straight into the gradient (no temporary for GEMMs).
  template <class Product>
  void accumulate_product(int id, const Product& product) {
    NodeT& n = node(id);
    if (!n.requires_grad) return;
    detail::product_into(MatrixMap<Scalar>(n.grad, n.rows, n.cols), n.external_grad || n.grad_written, product.lhs(),
                         product.rhs());
    n.grad_written = true;
  }
  /// Same, through a callable write(gradient map, accumulate) that must assign when
  /// accumulate is false and add when it is true.
  template <class Write>
  void accumulate_with(int id, Write&& write) {
    NodeT& n = node(id);
    if (!n.requires_grad) return;
    write(MatrixMap<Scalar>(n.grad, n.rows, n.cols), n.external_grad || n.grad_written);
    n.grad_written = true;
  }
  bool needs_grad(int id) const { return node(id).requires_grad; }

 private:
  std::vector<NodeT> nodes_;
  Arena<Scalar> arena_;
  bool grad_enabled_ = true;
  std::uint64_t generation_;
  static std::uint64_t next_generation() noexcept {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
  }
};

}  // namespace spindle::autodiff
