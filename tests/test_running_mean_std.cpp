#include <doctest/doctest.h>

#include <spindle/core/rng.hpp>
#include <spindle/core/running_mean_std.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_running_mean_std {

namespace {
Eigen::MatrixXd random_batch(spindle::Rng& rng, Eigen::Index rows, Eigen::Index cols) {
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = 3.0 * j + (1.0 + j) * rng.normal();
  return m;
}
}  // namespace

TEST_CASE("RunningMeanStd: batch updates equal a two-pass computation over all samples") {
  spindle::Rng rng(0);
  spindle::RunningMeanStd rms(3, /*epsilon=*/0.0);
  Eigen::MatrixXd all(0, 3);
  for (int rows : {1, 5, 17, 2, 100}) {
    const Eigen::MatrixXd b = random_batch(rng, rows, 3);
    rms.update(b);
    Eigen::MatrixXd grown(all.rows() + rows, 3);
    grown << all, b;
    all = grown;
  }
  const Eigen::RowVector3d mean = all.colwise().mean();
  const Eigen::RowVector3d var = (all.rowwise() - mean).array().square().colwise().mean();
  CHECK(rms.count() == all.rows());
  for (int j = 0; j < 3; ++j) {
    CHECK(rms.mean()(j) == doctest::Approx(mean(j)).epsilon(1e-12));
    CHECK(rms.var()(j) == doctest::Approx(var(j)).epsilon(1e-12));
  }
}

TEST_CASE("RunningMeanStd: the prior pseudo-count is a sample set at mean 0, variance 1 (SB3)") {
  spindle::Rng rng(1);
  const double eps = 1e-4;
  spindle::RunningMeanStd rms(2, eps);
  const Eigen::MatrixXd b = random_batch(rng, 50, 2);
  rms.update(b);
  const double n = 50;
  for (int j = 0; j < 2; ++j) {
    const double m = b.col(j).sum() / (n + eps);
    const double v = (eps * (1.0 + m * m) + (b.col(j).array() - m).square().sum()) / (n + eps);
    CHECK(rms.mean()(j) == doctest::Approx(m).epsilon(1e-12));
    CHECK(rms.var()(j) == doctest::Approx(v).epsilon(1e-12));
  }
}

TEST_CASE("RunningMeanStd: merging two halves equals updating with the whole") {
  spindle::Rng rng(2);
  const Eigen::MatrixXd a = random_batch(rng, 30, 4), b = random_batch(rng, 70, 4);
  spindle::RunningMeanStd left(4, 0.0), right(4, 0.0), whole(4, 0.0);
  left.update(a);
  right.update(b);
  whole.update(a);
  whole.update(b);
  left.merge(right);
  CHECK(left.mean().isApprox(whole.mean(), 1e-12));
  CHECK(left.var().isApprox(whole.var(), 1e-9));
  CHECK_THROWS_AS(left.update(Eigen::MatrixXd::Zero(2, 3)), spindle::shape_error);
}

}  // namespace test_running_mean_std
