#include <doctest/doctest.h>

#include <spindle/core/vector_env.hpp>
#include <spindle/envs.hpp>

#include "alloc_counter.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_vector_env {

using spindle::envs::Pendulum;
using spindle::VectorEnv;

namespace {
// Deterministic but varied actions: a function of the step and the env index.
Eigen::MatrixXf actions_at(int t, Eigen::Index n) {
  Eigen::MatrixXf a(n, 1);
  for (Eigen::Index i = 0; i < n; ++i) a(i, 0) = 2.0f * std::sin(0.1f * float(t) + float(i));
  return a;
}
}  // namespace

TEST_CASE("VectorEnv: serial and threaded give bit-identical buffers for the same seed") {
  for (int n : {1, 3, 8, 17}) {
    VectorEnv<Pendulum> serial(n);
    VectorEnv<Pendulum> threaded(n, Pendulum(), {.n_threads = 2});
    CHECK(threaded.n_threads() == 2);
    serial.reset(123);
    threaded.reset(123);
    REQUIRE(serial.observations() == threaded.observations());
    long finished = 0;
    for (int t = 0; t < 450; ++t) {  // crosses two auto-resets
      const auto a = actions_at(t, n);
      serial.step(a);
      threaded.step(a);
      REQUIRE(serial.observations() == threaded.observations());
      REQUIRE(serial.rewards() == threaded.rewards());
      REQUIRE((serial.truncated() == threaded.truncated()).all());
      REQUIRE(serial.finished_episodes().size() == threaded.finished_episodes().size());
      for (std::size_t k = 0; k < serial.finished_episodes().size(); ++k) {
        REQUIRE(serial.finished_episodes()[k].env == threaded.finished_episodes()[k].env);
        REQUIRE(serial.finished_episodes()[k].record == threaded.finished_episodes()[k].record);
        REQUIRE(serial.final_observations().row(serial.finished_episodes()[k].env) ==
                threaded.final_observations().row(serial.finished_episodes()[k].env));
      }
      finished += long(serial.finished_episodes().size());
    }
    CHECK(finished == 2 * n);
  }
}

TEST_CASE("VectorEnv: the same seed reproduces a run, another seed does not") {
  VectorEnv<Pendulum> a(4), b(4), c(4);
  a.reset(5);
  b.reset(5);
  c.reset(6);
  CHECK(a.observations() == b.observations());
  CHECK(a.observations() != c.observations());
  for (int t = 0; t < 50; ++t) {
    a.step(actions_at(t, 4));
    b.step(actions_at(t, 4));
  }
  CHECK(a.observations() == b.observations());
}

TEST_CASE("VectorEnv: auto-reset keeps the final observation and starts a new episode") {
  VectorEnv<Pendulum> venv(2);
  venv.reset(1);
  // Step copy 0 by hand in lockstep to know what its final observation must be.
  Pendulum mirror;
  spindle::Rng mirror_rng(1, 0);
  mirror.reset(mirror_rng);
  Eigen::MatrixXf a = Eigen::MatrixXf::Constant(2, 1, 0.7f);
  spindle::Step<3> last{};
  double ret = 0;
  for (int t = 0; t < 200; ++t) {
    venv.step(a);
    last = mirror.step(a.row(0).transpose());
    ret += last.reward;
  }
  CHECK(venv.truncated()(0) == 1);
  CHECK(venv.done(0));
  CHECK(venv.final_observations().row(0) == last.observation.transpose());
  const Eigen::Vector3f next = mirror.reset(mirror_rng);
  CHECK(venv.observations().row(0) == next.transpose());
  REQUIRE(venv.finished_episodes().size() == 2);
  CHECK(venv.finished_episodes()[0].env == 0);
  CHECK(venv.finished_episodes()[0].record.length == 200);
  CHECK(venv.finished_episodes()[0].record.episode_return == doctest::Approx(ret).epsilon(1e-6));
  venv.step(a);
  CHECK(venv.finished_episodes().empty());
  CHECK_FALSE(venv.done(0));
}

TEST_CASE("VectorEnv: bad actions are rejected before any copy is stepped") {
  VectorEnv<Pendulum> venv(3);
  CHECK_THROWS_AS(venv.step(Eigen::MatrixXf::Zero(3, 1)), spindle::episode_error);
  venv.reset(0);
  const Eigen::MatrixXf before = venv.observations();
  CHECK_THROWS_WITH_AS(venv.step(Eigen::MatrixXf::Zero(2, 1)),
                       "VectorEnv::step: actions has shape (2, 1), expected (3, 1)", spindle::shape_error);
  Eigen::MatrixXf a = Eigen::MatrixXf::Zero(3, 1);
  a(2, 0) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(venv.step(a), "VectorEnv::step: actions has a non-finite value inf at (2, 0)",
                       spindle::non_finite_error);
  CHECK(venv.observations() == before);
  CHECK_THROWS_AS(VectorEnv<Pendulum>(0), std::invalid_argument);
}

TEST_CASE("VectorEnv: stepping allocates nothing, serial or threaded, auto-resets included") {
  for (int threads : {1, 2}) {
    VectorEnv<Pendulum> venv(8, Pendulum(), {.n_threads = threads});
    venv.reset(3);
    const Eigen::MatrixXf a = Eigen::MatrixXf::Constant(8, 1, 0.1f);
    venv.step(a);
    const auto before = spindle_test::allocations();
    for (int t = 0; t < 400; ++t) venv.step(a);
    CHECK(spindle_test::allocations() == before);
  }
}

TEST_CASE("VectorEnv: an exception from one copy reaches the caller") {
  VectorEnv<Pendulum> venv(4, Pendulum(), {.n_threads = 2});
  venv.reset(0);
  // Step copy 3 past its episode by hand: the next vector step must report the misuse.
  for (int t = 0; t < 200; ++t) venv.env(3).step(Eigen::Matrix<float, 1, 1>(0.f));
  CHECK_THROWS_AS(venv.step(Eigen::MatrixXf::Zero(4, 1)), spindle::episode_error);
}

}  // namespace test_vector_env
