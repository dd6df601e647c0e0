#include <doctest/doctest.h>

#include <limits>
#include <spindle/core/box.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_box {

using spindle::Box;

TEST_CASE("Box: construction, size, bounds") {
  Box b{-2.0f, 2.0f, 3};
  static_assert(std::is_same_v<decltype(b), Box<float>>);
  CHECK(b.size() == 3);
  CHECK(b.bounded());
  CHECK_THROWS_AS(Box<float>(1.0f, -1.0f, 2), std::invalid_argument);
  CHECK_THROWS_AS(Box<double>(Eigen::VectorXd::Zero(2), Eigen::VectorXd::Ones(3)), spindle::shape_error);
}

TEST_CASE("Box: contains, clip") {
  Box<double> b(Eigen::Vector2d(-1, 0), Eigen::Vector2d(1, 5));
  CHECK(b.contains(Eigen::Vector2d(0, 5)));
  CHECK_FALSE(b.contains(Eigen::Vector2d(0, 5.01)));
  CHECK_FALSE(b.contains(Eigen::Vector2d(std::nan(""), 1)));
  CHECK_FALSE(b.contains(Eigen::Vector3d(0, 1, 2)));
  const Eigen::Vector2d c = b.clip(Eigen::Vector2d(-3, 7));
  CHECK(c == Eigen::Vector2d(-1, 5));
  CHECK_THROWS_AS(b.clip(Eigen::Vector3d::Zero()), spindle::shape_error);
}

TEST_CASE("Box: samples lie inside and cover the box") {
  Box<float> b(Eigen::Vector2f(-1, 10), Eigen::Vector2f(1, 20));
  spindle::Rng rng(0);
  Eigen::Vector2f lo(1e9f, 1e9f), hi(-1e9f, -1e9f), x;
  for (int i = 0; i < 10000; ++i) {
    b.sample(rng, x);
    REQUIRE(b.contains(x));
    lo = lo.cwiseMin(x);
    hi = hi.cwiseMax(x);
  }
  CHECK(lo(0) < -0.99f);
  CHECK(hi(0) > 0.99f);
  CHECK(lo(1) < 10.01f);
  CHECK(hi(1) > 19.99f);
}

TEST_CASE("Box: unbounded sides are sampled on the right side") {
  const double inf = std::numeric_limits<double>::infinity();
  Box<double> b(Eigen::Vector3d(-inf, 0, -inf), Eigen::Vector3d(inf, inf, 3));
  CHECK_FALSE(b.bounded());
  spindle::Rng rng(1);
  for (int i = 0; i < 1000; ++i) {
    const Eigen::VectorXd x = b.sample(rng);
    REQUIRE(x.allFinite());
    REQUIRE(x(1) >= 0.0);
    REQUIRE(x(2) <= 3.0);
  }
}

TEST_CASE("Box: rescaling from and to the unit box is affine and invertible") {
  Box<double> b(Eigen::Vector2d(-2, 0), Eigen::Vector2d(2, 10));
  CHECK(b.rescale_from_unit(Eigen::Vector2d(-1, -1)) == Eigen::Vector2d(-2, 0));
  CHECK(b.rescale_from_unit(Eigen::Vector2d(1, 1)) == Eigen::Vector2d(2, 10));
  CHECK(b.rescale_from_unit(Eigen::Vector2d(0, 0.5)).isApprox(Eigen::Vector2d(0, 7.5)));
  const Eigen::Vector2d x(1.3, 2.2);
  CHECK(b.rescale_from_unit(b.rescale_to_unit(x)).isApprox(x));
}

}  // namespace test_box
