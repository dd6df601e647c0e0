// The MuJoCo adapter's overhead: one environment step through mujoco::Env (`<task>/spindle`)
// next to the raw floor on the same model and data (`<task>/floor`: set ctrl, mj_step ×
// frame_skip). Also the reset cost and a VectorEnv of 8 copies, serial and on 2 threads.
#include <benchmark/benchmark.h>

#include <spindle/core/vector_env.hpp>
#include <spindle/mujoco.hpp>

namespace {

using namespace spindle::mujoco;

// Episodes long enough that no reset lands inside the timing loop.
Env long_muscle_arm() {
  MuscleArmConfig c;
  c.episode_steps = 1'000'000'000;
  return muscle_arm(c);
}

void muscle_arm_spindle(benchmark::State& state) {
  Env env = long_muscle_arm();
  spindle::Rng rng(0);
  env.reset(rng);
  spindle::Step<spindle::dynamic, float> s;
  Eigen::VectorXf a = Eigen::VectorXf::Constant(env.action_size(), 0.2f);
  for (auto _ : state) {
    a(0) = -a(0);  // alternate so the arm keeps moving
    env.step(a, s);
    benchmark::DoNotOptimize(s.observation.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(muscle_arm_spindle)->Name("muscle_arm/spindle");

void muscle_arm_floor(benchmark::State& state) {
  Env env = long_muscle_arm();  // the same model and data, stepped by hand
  spindle::Rng rng(0);
  env.reset(rng);
  const mjModel* m = env.model().get();
  mjData* d = &env.data();
  double sign = 1;
  for (auto _ : state) {
    sign = -sign;
    for (int i = 0; i < m->nu; ++i) d->ctrl[i] = 0.6;
    d->ctrl[0] = 0.5 + 0.1 * sign;
    for (int f = 0; f < env.config().frame_skip; ++f) mj_step(m, d);
    benchmark::DoNotOptimize(d->qpos);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(muscle_arm_floor)->Name("muscle_arm/floor");

void muscle_arm_reset(benchmark::State& state) {
  Env env = muscle_arm();
  spindle::Rng rng(0);
  for (auto _ : state) {
    auto o = env.reset(rng);
    benchmark::DoNotOptimize(o.data());
  }
}
BENCHMARK(muscle_arm_reset)->Name("muscle_arm/reset");

void muscle_arm_vector(benchmark::State& state) {
  const auto n = state.range(0);
  spindle::VectorEnv<Env> venv(n, long_muscle_arm(), {.n_threads = static_cast<int>(state.range(1))});
  venv.reset(0);
  Eigen::MatrixXf actions = Eigen::MatrixXf::Constant(n, venv.action_size(), 0.2f);
  for (auto _ : state) {
    actions.col(0) = -actions.col(0);
    venv.step(actions);
    benchmark::DoNotOptimize(venv.observations().data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(muscle_arm_vector)->Name("muscle_arm/vector")->ArgNames({"n", "threads"})->Args({8, 1})->Args({8, 2})->UseRealTime();

Env long_quadruped(double sigma = 0.0) {
  QuadrupedConfig c;
  c.episode_steps = 1'000'000'000;
  c.sigma = sigma;
  c.healthy_z_min = -1e9;  // no termination inside the timing loop
  c.healthy_z_max = 1e9;
  return quadruped(c);
}

void quadruped_spindle(benchmark::State& state) {
  Env env = long_quadruped();
  spindle::Rng rng(0);
  env.reset(rng);
  spindle::Step<spindle::dynamic, float> s;
  Eigen::VectorXf a = Eigen::VectorXf::Constant(env.action_size(), 0.3f);
  for (auto _ : state) {
    a = -a;
    env.step(a, s);
    benchmark::DoNotOptimize(s.observation.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(quadruped_spindle)->Name("quadruped/spindle");

void quadruped_floor(benchmark::State& state) {
  Env env = long_quadruped();
  spindle::Rng rng(0);
  env.reset(rng);
  const mjModel* m = env.model().get();
  mjData* d = &env.data();
  double a = 0.3;
  for (auto _ : state) {
    a = -a;
    for (int i = 0; i < m->nu; ++i) d->ctrl[i] = a;
    for (int f = 0; f < env.config().frame_skip; ++f) mj_step(m, d);
    mj_rnePostConstraint(m, d);  // the contact forces the reward and observation use
    benchmark::DoNotOptimize(d->qpos);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(quadruped_floor)->Name("quadruped/floor");

// Reset with a freshly drawn body (regenerate the MJCF, compile it through the VFS, new mjData).
void quadruped_reset(benchmark::State& state) {
  Env env = long_quadruped(state.range(0) / 10.0);
  spindle::Rng rng(0);
  for (auto _ : state) {
    auto o = env.reset(rng);
    benchmark::DoNotOptimize(o.data());
  }
}
BENCHMARK(quadruped_reset)->Name("quadruped/reset")->ArgName("sigma_x10")->Arg(0)->Arg(3);

}  // namespace

BENCHMARK_MAIN();
