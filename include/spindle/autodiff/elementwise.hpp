#pragma once
// Elementwise operations: activations and math functions, scalar arithmetic,
// and binary arithmetic with broadcasting (a dimension of size 1 in one operand
// is repeated to match the other: bias columns, per-sample rows, scalars).
#include <cmath>
#include <numbers>
#include <string>
#include <type_traits>

#include "tape.hpp"

namespace spindle::autodiff {

namespace detail {

template <class Scalar>
Var<Scalar> record_unary(Var<Scalar> x, typename Node<Scalar>::BackwardFn backward) {
  Tape<Scalar>& t = *x.tape;
  const int id = t.push(x.rows(), x.cols(), t.needs_grad(x.id));
  Node<Scalar>& n = t.node(id);
  n.input[0] = x.id;
  if (n.requires_grad) n.backward = backward;
  return {&t, id};
}

// An elementwise function: Op::forward(node, x, y) writes y = f(x);
// Op::grad(node, x, y, g) is the expression dL/dx given g = dL/dy.
template <class Scalar, class Op>
void unary_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const auto x = t.value(n.input[0]).array();
  const ConstMatrixMap<Scalar> y(n.value, n.rows, n.cols);
  const ConstMatrixMap<Scalar> g(n.grad, n.rows, n.cols);
  t.accumulate(n.input[0], Op::grad(n, x, y.array(), g.array()).matrix());
}

template <class Op, class Scalar>
Var<Scalar> unary(Var<Scalar> x, Scalar p0 = 0, Scalar p1 = 0) {
  Var<Scalar> y = record_unary(x, &unary_backward<Scalar, Op>);
  Node<Scalar>& n = x.tape->node(y.id);
  n.param[0] = p0;
  n.param[1] = p1;
  auto out = x.tape->value(y.id).array();
  Op::forward(n, x.tape->value(x.id).array(), out);
  return y;
}

struct TanhOp {
  template <class N, class X, class Y>
  static void forward(const N&, const X& x, Y& y) { y = x.tanh(); }
  template <class N, class X, class Y, class G>
  static auto grad(const N&, const X&, const Y& y, const G& g) { return g * (1 - y.square()); }
};
struct ReluOp {
  template <class N, class X, class Y>
  static void forward(const N&, const X& x, Y& y) { y = x.max(typename X::Scalar(0)); }
  template <class N, class X, class Y, class G>
  static auto grad(const N&, const X& x, const Y&, const G& g) {
    using S = typename X::Scalar;
    return (x > S(0)).select(g, S(0));
  }
};
struct EluOp {  // param[0] = alpha
  template <class N, class X, class Y>
  static void forward(const N& n, const X& x, Y& y) {
    using S = typename X::Scalar;
    y = (x > S(0)).select(x, n.param[0] * (x.exp() - S(1)));
  }
  template <class N, class X, class Y, class G>
  static auto grad(const N& n, const X& x, const Y& y, const G& g) {
    using S = typename X::Scalar;
    return (x > S(0)).select(g, g * (y + n.param[0]));
  }
};
struct GeluOp {  // exact: x·Φ(x)
  template <class N, class X, class Y>
  static void forward(const N&, const X& x, Y& y) {
    using S = typename X::Scalar;
    y = x.unaryExpr([](S v) { return S(0.5) * v * (S(1) + std::erf(v * S(std::numbers::sqrt2 / 2))); });
  }
  template <class N, class X, class Y, class G>
  static auto grad(const N&, const X& x, const Y&, const G& g) {
    using S = typename X::Scalar;
    return g * x.unaryExpr([](S v) {
      const S cdf = S(0.5) * (S(1) + std::erf(v * S(std::numbers::sqrt2 / 2)));
      const S pdf = std::exp(S(-0.5) * v * v) * S(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
      return cdf + v * pdf;
    });
  }
};
struct SoftplusOp {  // PyTorch's softplus: beta = 1, linear above threshold 20
  template <class N, class X, class Y>
  static void forward(const N&, const X& x, Y& y) {
    using S = typename X::Scalar;
    y = x.unaryExpr([](S v) { return v > S(20) ? v : std::log1p(std::exp(v)); });
  }
  template <class N, class X, class Y, class G>
  static auto grad(const N&, const X& x, const Y&, const G& g) {
    using S = typename X::Scalar;
    return g * x.unaryExpr([](S v) { return v > S(20) ? S(1) : S(1) / (S(1) + std::exp(-v)); });
  }
};
struct SigmoidOp {
  template <class N, class X, class Y>
  static void forward(const N&, const X& x, Y& y) {
    using S = typename X::Scalar;
    y = S(1) / (S(1) + (-x).exp());
  }
  template <class N, class X, class Y, class G>
  static auto grad(const N&, const X&, const Y& y, const G& g) { return g * y * (1 - y); }
};
struct ExpOp {
  template <class N, class X, class Y>
  static void forward(const N&, const X& x, Y& y) { y = x.exp(); }
  template <class N, class X, class Y, class G>
  static auto grad(const N&, const X&, const Y& y, const G& g) { return g * y; }
};
struct LogOp {
  template <class N, class X, class Y>
  static void forward(const N&, const X& x, Y& y) { y = x.log(); }
  template <class N, class X, class Y, class G>
  static auto grad(const N&, const X& x, const Y&, const G& g) { return g / x; }
};
struct SquareOp {
  template <class N, class X, class Y>
  static void forward(const N&, const X& x, Y& y) { y = x.square(); }
  template <class N, class X, class Y, class G>
  static auto grad(const N&, const X& x, const Y&, const G& g) { return 2 * g * x; }
};
struct SqrtOp {
  template <class N, class X, class Y>
  static void forward(const N&, const X& x, Y& y) { y = x.sqrt(); }
  template <class N, class X, class Y, class G>
  static auto grad(const N&, const X&, const Y& y, const G& g) { return g * typename X::Scalar(0.5) / y; }
};
struct AbsOp {  // d|x|/dx = sign(x), 0 at 0
  template <class N, class X, class Y>
  static void forward(const N&, const X& x, Y& y) { y = x.abs(); }
  template <class N, class X, class Y, class G>
  static auto grad(const N&, const X& x, const Y&, const G& g) { return g * x.sign(); }
};
struct ClampOp {  // param = [lo, hi]; gradient 1 where lo <= x <= hi (bounds included, as PyTorch), else 0
  template <class N, class X, class Y>
  static void forward(const N& n, const X& x, Y& y) { y = x.max(n.param[0]).min(n.param[1]); }
  template <class N, class X, class Y, class G>
  static auto grad(const N& n, const X& x, const Y&, const G& g) {
    using S = typename X::Scalar;
    return (x >= n.param[0] && x <= n.param[1]).select(g, S(0));
  }
};
struct AddScalarOp {  // param[0] = s
  template <class N, class X, class Y>
  static void forward(const N& n, const X& x, Y& y) { y = x + n.param[0]; }
  template <class N, class X, class Y, class G>
  static auto grad(const N&, const X&, const Y&, const G& g) { return g; }
};
struct MulScalarOp {  // param[0] = s
  template <class N, class X, class Y>
  static void forward(const N& n, const X& x, Y& y) { y = x * n.param[0]; }
  template <class N, class X, class Y, class G>
  static auto grad(const N& n, const X&, const Y&, const G& g) { return g * n.param[0]; }
};

}  // namespace detail

template <class S> Var<S> tanh(Var<S> x) { return detail::unary<detail::TanhOp>(x); }
template <class S> Var<S> relu(Var<S> x) { return detail::unary<detail::ReluOp>(x); }
template <class S> Var<S> elu(Var<S> x, std::type_identity_t<S> alpha = S(1)) { return detail::unary<detail::EluOp>(x, alpha); }
template <class S> Var<S> gelu(Var<S> x) { return detail::unary<detail::GeluOp>(x); }
template <class S> Var<S> softplus(Var<S> x) { return detail::unary<detail::SoftplusOp>(x); }
template <class S> Var<S> sigmoid(Var<S> x) { return detail::unary<detail::SigmoidOp>(x); }
template <class S> Var<S> exp(Var<S> x) { return detail::unary<detail::ExpOp>(x); }
template <class S> Var<S> log(Var<S> x) { return detail::unary<detail::LogOp>(x); }
template <class S> Var<S> square(Var<S> x) { return detail::unary<detail::SquareOp>(x); }
template <class S> Var<S> sqrt(Var<S> x) { return detail::unary<detail::SqrtOp>(x); }
template <class S> Var<S> abs(Var<S> x) { return detail::unary<detail::AbsOp>(x); }
/// Clamps to [lo, hi]. Gradient: 1 where lo <= x <= hi (bounds included, like PyTorch), 0 outside.
template <class S>
Var<S> clamp(Var<S> x, std::type_identity_t<S> lo, std::type_identity_t<S> hi) {
  return detail::unary<detail::ClampOp>(x, lo, hi);
}
// Scalar arithmetic; the scalar converts to the tape's type (x * 2.0 works on a float tape).
template <class S> Var<S> operator+(Var<S> x, std::type_identity_t<S> s) { return detail::unary<detail::AddScalarOp>(x, s); }
template <class S> Var<S> operator+(std::type_identity_t<S> s, Var<S> x) { return x + s; }
template <class S> Var<S> operator-(Var<S> x, std::type_identity_t<S> s) { return x + (-s); }
template <class S> Var<S> operator*(Var<S> x, std::type_identity_t<S> s) { return detail::unary<detail::MulScalarOp>(x, s); }
template <class S> Var<S> operator*(std::type_identity_t<S> s, Var<S> x) { return x * s; }
template <class S> Var<S> operator/(Var<S> x, std::type_identity_t<S> s) { return x * (S(1) / s); }
template <class S> Var<S> operator-(Var<S> x) { return x * S(-1); }
template <class S> Var<S> operator-(std::type_identity_t<S> s, Var<S> x) { return (-x) + s; }

/// The same value with no gradient flowing back (a zero-copy view).
template <class S>
Var<S> stop_gradient(Var<S> x) {
  return x.tape->view(x.tape->node(x.id).value, x.rows(), x.cols());
}

// --- binary operations with broadcasting
namespace detail {

enum class Binary { add, sub, mul, div, min, max };

inline const char* binary_name(Binary op) {
  switch (op) {
    case Binary::add: return "add";
    case Binary::sub: return "sub";
    case Binary::mul: return "mul";
    case Binary::div: return "div";
    case Binary::min: return "minimum";
    default: return "maximum";
  }
}

inline Eigen::Index broadcast_dim(Eigen::Index a, Eigen::Index b) { return a == b ? a : (a == 1 ? b : (b == 1 ? a : -1)); }

template <class M>
auto broadcast(const M& m, Eigen::Index rows, Eigen::Index cols) {
  return m.replicate(rows / m.rows(), cols / m.cols());
}

/// Adds the full-size gradient `g` to input `id`, summed over its broadcast dimensions.
template <class Scalar, class Expr>
void accumulate_reduced(Tape<Scalar>& t, int id, const Expr& g) {
  if (!t.needs_grad(id)) return;
  const auto& n = t.node(id);
  if (n.rows == g.rows() && n.cols == g.cols())
    t.accumulate(id, g);
  else if (n.rows == 1 && n.cols == 1)
    t.accumulate(id, Eigen::Matrix<Scalar, 1, 1>::Constant(g.sum()));
  else if (n.cols == 1)
    t.accumulate(id, g.rowwise().sum());
  else
    t.accumulate(id, g.colwise().sum());
}

template <class Scalar, Binary Op, class G, class A, class B>
void binary_backward_terms(Tape<Scalar>& t, const Node<Scalar>& n, const G& g, const A& a, const B& b) {
  if constexpr (Op == Binary::add) {
    accumulate_reduced(t, n.input[0], g.matrix());
    accumulate_reduced(t, n.input[1], g.matrix());
  } else if constexpr (Op == Binary::sub) {
    accumulate_reduced(t, n.input[0], g.matrix());
    accumulate_reduced(t, n.input[1], (-g).matrix());
  } else if constexpr (Op == Binary::mul) {
    accumulate_reduced(t, n.input[0], (g * b).matrix());
    accumulate_reduced(t, n.input[1], (g * a).matrix());
  } else if constexpr (Op == Binary::div) {
    accumulate_reduced(t, n.input[0], (g / b).matrix());
    accumulate_reduced(t, n.input[1], (-g * a / b.square()).matrix());
  } else {
    // The gradient goes to the selected operand; ties split it in half (as torch.minimum/maximum).
    const auto pick_a = Op == Binary::min ? (a < b).template cast<Scalar>() : (a > b).template cast<Scalar>();
    const auto tie = (a == b).template cast<Scalar>() * Scalar(0.5);
    accumulate_reduced(t, n.input[0], (g * (pick_a + tie)).matrix());
    accumulate_reduced(t, n.input[1], (g * (Scalar(1) - pick_a - tie)).matrix());
  }
}

template <class Scalar, Binary Op>
void binary_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const Eigen::Index r = n.rows, c = n.cols;
  const auto g = ConstMatrixMap<Scalar>(n.grad, r, c).array();
  const auto a = t.value(n.input[0]), b = t.value(n.input[1]);
  // Replicate with run-time factors divides per coefficient and does not vectorise (it was ~10% of
  // PPO Pendulum's run in the clipped loss's minimum): operands of the output's shape skip it.
  if (a.rows() == r && a.cols() == c && b.rows() == r && b.cols() == c)
    binary_backward_terms<Scalar, Op>(t, n, g, a.array(), b.array());
  else
    binary_backward_terms<Scalar, Op>(t, n, g, broadcast(a, r, c).array(), broadcast(b, r, c).array());
}

template <Binary Op, class Scalar>
Var<Scalar> binary(Var<Scalar> x, Var<Scalar> y) {
  Tape<Scalar>& t = *x.tape;
  const Eigen::Index r = broadcast_dim(x.rows(), y.rows()), c = broadcast_dim(x.cols(), y.cols());
  if (r < 0 || c < 0)
    throw shape_error(std::string(binary_name(Op)) + ": shapes " + spindle::detail::shape_string(x.rows(), x.cols()) +
                      " and " + spindle::detail::shape_string(y.rows(), y.cols()) + " do not broadcast");
  const int id = t.push(r, c, t.needs_grad(x.id) || t.needs_grad(y.id));
  Node<Scalar>& n = t.node(id);
  n.input[0] = x.id;
  n.input[1] = y.id;
  if (n.requires_grad) n.backward = &binary_backward<Scalar, Op>;
  auto out = t.value(id).array();
  const auto a = t.value(x.id), b = t.value(y.id);
  const bool same = a.rows() == b.rows() && a.cols() == b.cols();
  auto compute = [&](const auto& A, const auto& B) {
    if constexpr (Op == Binary::add) out = A + B;
    else if constexpr (Op == Binary::sub) out = A - B;
    else if constexpr (Op == Binary::mul) out = A * B;
    else if constexpr (Op == Binary::div) out = A / B;
    else if constexpr (Op == Binary::min) out = A.min(B);
    else out = A.max(B);
  };
  if (same)
    compute(a.array(), b.array());  // the common case, fully vectorised
  else if constexpr (Op == Binary::add || Op == Binary::mul) {
    if (b.cols() == 1 && b.rows() == r && a.rows() == r && a.cols() == c) {  // a column (bias, std) over a batch
      if constexpr (Op == Binary::add) out = a.array().colwise() + b.col(0).array();
      else out = a.array().colwise() * b.col(0).array();
    } else if (a.cols() == 1 && a.rows() == r && b.rows() == r && b.cols() == c) {
      if constexpr (Op == Binary::add) out = b.array().colwise() + a.col(0).array();
      else out = b.array().colwise() * a.col(0).array();
    } else {
      compute(broadcast(a, r, c).array(), broadcast(b, r, c).array());
    }
  } else
    compute(broadcast(a, r, c).array(), broadcast(b, r, c).array());
  return {&t, id};
}

}  // namespace detail

template <class S> Var<S> operator+(Var<S> a, Var<S> b) { return detail::binary<detail::Binary::add>(a, b); }
template <class S> Var<S> operator-(Var<S> a, Var<S> b) { return detail::binary<detail::Binary::sub>(a, b); }
/// Elementwise product (use matmul for the matrix product).
template <class S> Var<S> operator*(Var<S> a, Var<S> b) { return detail::binary<detail::Binary::mul>(a, b); }
template <class S> Var<S> operator/(Var<S> a, Var<S> b) { return detail::binary<detail::Binary::div>(a, b); }
template <class S> Var<S> minimum(Var<S> a, Var<S> b) { return detail::binary<detail::Binary::min>(a, b); }
template <class S> Var<S> maximum(Var<S> a, Var<S> b) { return detail::binary<detail::Binary::max>(a, b); }

}  // namespace spindle::autodiff
