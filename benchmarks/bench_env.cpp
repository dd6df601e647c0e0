// Environment stepping: Pendulum through VectorEnv, serial vs threaded, N = 1, 8, 64.
// Reports env steps per second (items_per_second) and the raw single-env floor.
#include <benchmark/benchmark.h>

#include <spindle/core/vector_env.hpp>
#include <spindle/envs/pendulum.hpp>

using spindle::envs::Pendulum;

namespace {

// The floor: one Pendulum stepped directly, no vector machinery.
void pendulum_raw(benchmark::State& state) {
  Pendulum::Config c;
  c.max_episode_steps = 0;
  Pendulum env(c);
  spindle::Rng rng(0);
  env.reset(rng);
  Eigen::Matrix<float, 1, 1> a(0.5f);
  for (auto _ : state) {
    auto s = env.step(a);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(pendulum_raw)->Name("pendulum/raw");

void pendulum_vector(benchmark::State& state) {
  const auto n = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  spindle::VectorEnv<Pendulum> venv(n, Pendulum(), {.n_threads = threads});
  venv.reset(0);
  Eigen::MatrixXf actions = Eigen::MatrixXf::Constant(n, 1, 0.5f);
  for (auto _ : state) {
    venv.step(actions);
    benchmark::DoNotOptimize(venv.observations().data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["steps/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n), benchmark::Counter::kIsRate);
}
BENCHMARK(pendulum_vector)
    ->Name("pendulum/vector")
    ->ArgNames({"n", "threads"})
    ->ArgsProduct({{1, 8, 64}, {1, 2}})
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
