#include <doctest/doctest.h>

#include <spindle/core/environment.hpp>
#include <spindle/envs.hpp>
#include <spindle/wrappers.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_environment_concept {

// A user's environment as in the docs: nothing inherited, nothing registered.
struct Reacher {
  static constexpr int obs_dim = 4, act_dim = 2;
  spindle::Box<float> action_space{-1.0f, 1.0f, act_dim};
  Eigen::Vector4f state = Eigen::Vector4f::Zero();

  Eigen::Vector4f reset(spindle::Rng& rng) {
    for (int i = 0; i < 4; ++i) state(i) = rng.uniform(-0.1f, 0.1f);
    return state;
  }
  spindle::Step<obs_dim> step(const Eigen::Vector2f& a) {
    state.head<2>() += 0.1f * a;
    return {state, -state.head<2>().norm(), false, false};
  }
};

// Runtime-sized observations, with an allocation-free step overload.
struct RuntimeSized {
  static constexpr int obs_dim = spindle::dynamic, act_dim = spindle::dynamic;
  Eigen::Index n = 5;
  spindle::Box<double> space{-1.0, 1.0, 3};
  const spindle::Box<double>& action_space() const { return space; }
  Eigen::Index observation_size() const { return n; }
  Eigen::VectorXd reset(spindle::Rng&) { return Eigen::VectorXd::Zero(n); }
  spindle::Step<spindle::dynamic, double> step(const Eigen::VectorXd& a) {
    return {Eigen::VectorXd::Constant(n, a.sum()), 1.0, false, false};
  }
  int into_calls = 0;
  void step(const Eigen::VectorXd& a, spindle::Step<spindle::dynamic, double>& out) {
    ++into_calls;
    out.observation.setConstant(a.sum());
    out.reward = 1.0;
    out.terminated = out.truncated = false;
  }
};

struct MissingReset {
  static constexpr int obs_dim = 2, act_dim = 1;
  spindle::Box<float> action_space{-1.0f, 1.0f, 1};
  spindle::Step<2> step(const Eigen::Matrix<float, 1, 1>&);
};
struct WrongObsSize {
  static constexpr int obs_dim = 3, act_dim = 1;
  spindle::Box<float> action_space{-1.0f, 1.0f, 1};
  Eigen::Vector2f reset(spindle::Rng&);
  spindle::Step<3> step(const Eigen::Matrix<float, 1, 1>&);
};
struct StepWithoutFlags {
  struct Result {
    Eigen::Vector2f observation;
    float reward;
  };
  static constexpr int obs_dim = 2, act_dim = 1;
  spindle::Box<float> action_space{-1.0f, 1.0f, 1};
  Eigen::Vector2f reset(spindle::Rng&);
  Result step(const Eigen::Matrix<float, 1, 1>&);
};
struct DynamicWithoutSize {
  static constexpr int obs_dim = spindle::dynamic, act_dim = 1;
  spindle::Box<float> action_space{-1.0f, 1.0f, 1};
  Eigen::VectorXf reset(spindle::Rng&);
  spindle::Step<spindle::dynamic> step(const Eigen::Matrix<float, 1, 1>&);
};

TEST_CASE("Environment concept accepts user types, shipped environments and wrappers") {
  static_assert(spindle::check_environment<Reacher>());
  static_assert(spindle::Environment<Reacher>);
  static_assert(spindle::Environment<RuntimeSized>);
  static_assert(spindle::Environment<spindle::envs::Pendulum>);
  static_assert(spindle::Environment<spindle::envs::BasicPendulum<double>>);
  static_assert(spindle::Environment<spindle::envs::ContinuousCartPole>);
  static_assert(spindle::Environment<spindle::envs::MountainCarContinuous>);
  static_assert(spindle::Environment<spindle::TimeLimit<Reacher>>);
  static_assert(spindle::Environment<spindle::RescaleAction<spindle::envs::Pendulum>>);
  static_assert(spindle::Environment<spindle::EpisodeStatistics<spindle::TimeLimit<Reacher>>>);
  static_assert(std::is_same_v<spindle::scalar_t<RuntimeSized>, double>);
  static_assert(std::is_same_v<spindle::action_t<Reacher>, Eigen::Vector2f>);

  Reacher r;
  CHECK(spindle::observation_size(r) == 4);
  CHECK(spindle::action_size(r) == 2);
  RuntimeSized d;
  CHECK(spindle::observation_size(d) == 5);
  CHECK(spindle::action_size(d) == 3);
}

TEST_CASE("Environment concept rejects broken types") {
  static_assert(!spindle::Environment<MissingReset>);
  static_assert(!spindle::Environment<WrongObsSize>);
  static_assert(!spindle::Environment<StepWithoutFlags>);
  static_assert(!spindle::Environment<DynamicWithoutSize>);
  static_assert(!spindle::Environment<int>);
  // The messages themselves are checked by the compile_fail.* CTest cases.
  CHECK(true);
}

TEST_CASE("step_into uses the allocation-free overload when there is one") {
  RuntimeSized env;
  spindle::Rng rng(0);
  env.reset(rng);
  spindle::Step<spindle::dynamic, double> out;
  out.observation.resize(5);
  spindle::step_into(env, Eigen::VectorXd::Ones(3), out);
  CHECK(env.into_calls == 1);
  CHECK(out.observation == Eigen::VectorXd::Constant(5, 3.0));
}

}  // namespace test_environment_concept
