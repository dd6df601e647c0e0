#include <doctest/doctest.h>

#include <limits>
#include <spindle/core/errors.hpp>
#include <string>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_errors {

TEST_CASE("check_shape names the operation, the value and both shapes") {
  Eigen::MatrixXf m(3, 2);
  CHECK_NOTHROW(spindle::check_shape(m, 3, 2, "op", "m"));
  CHECK_THROWS_WITH_AS(spindle::check_shape(m, 4, 1, "VectorEnv::step", "actions"),
                       "VectorEnv::step: actions has shape (3, 2), expected (4, 1)", spindle::shape_error);
}

TEST_CASE("check_finite names the first NaN or Inf and where it is") {
  Eigen::Matrix2d m = Eigen::Matrix2d::Zero();
  CHECK_NOTHROW(spindle::check_finite(m, "op", "m"));
  m(1, 0) = std::numeric_limits<double>::infinity();
  m(0, 1) = std::nan("");
  CHECK(spindle::first_non_finite(m) == 1);
  CHECK_THROWS_WITH_AS(spindle::check_finite(m, "Pendulum::step", "action"),
                       "Pendulum::step: action has a non-finite value inf at (1, 0)",
                       spindle::non_finite_error);
}

}  // namespace test_errors
