// The MuJoCo adapter's overhead, per task: one environment step through mujoco::Env
// (`<task>/spindle`) next to the raw floor on the same model and data (`<task>/floor`: set ctrl,
// mj_step × frame_skip, plus mj_rnePostConstraint where the task reads contact forces). Also the
// reset cost (with a freshly drawn body for σ > 0) and a VectorEnv of 8 muscle arms, serial and
// on 2 threads. MyoSuite's Baoding on the 39-muscle hand (when ../shared or $SPINDLE_SHARED
// holds the scene): `baoding/spindle` (the whole step: 10 substeps, observed copy, 86
// observations, reward) next to `baoding/floor` (sigmoid controls and 10 mj_steps) and
// `baoding/floor_myosuite` (the same plus MyoSuite's forwarded observation copy). Both restore
// the start state every 20 steps (untimed), so they time the same stretch of trajectory. Also
// MyoSuite's elbow, finger and hand pose and hand reach: spindle's step vs sigmoid controls and
// 10 mj_steps.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <spindle/core/vector_env.hpp>
#include <spindle/mujoco.hpp>

namespace {

using namespace spindle::mujoco;

// Episodes long enough, and no termination, so that no reset lands inside the timing loop.
Env long_episode(const std::string& task, double sigma = 0.0) {
  constexpr long forever = 1'000'000'000;
  if (task == "muscle_arm") {
    MuscleArmConfig c;
    c.episode_steps = forever;
    return muscle_arm(c);
  }
  if (task == "quadruped") {
    QuadrupedConfig c;
    c.episode_steps = forever;
    c.sigma = sigma;
    c.healthy_z_min = -1e9;
    c.healthy_z_max = 1e9;
    return quadruped(c);
  }
  RunnerConfig c;
  c.episode_steps = forever;
  c.sigma = sigma;
  return runner(c);
}

void step_spindle(benchmark::State& state, const std::string& task) {
  Env env = long_episode(task);
  spindle::Rng rng(0);
  env.reset(rng);
  spindle::Step<spindle::dynamic, float> s;
  Eigen::VectorXf a = Eigen::VectorXf::Constant(env.action_size(), 0.2f);
  for (auto _ : state) {
    a = -a;  // alternate so the body keeps moving
    env.step(a, s);
    benchmark::DoNotOptimize(s.observation.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void step_floor(benchmark::State& state, const std::string& task) {
  Env env = long_episode(task);  // the same model and data, stepped by hand
  spindle::Rng rng(0);
  env.reset(rng);
  const mjModel* m = env.model().get();
  mjData* d = &env.data();
  const bool contact_forces = task == "quadruped";
  float a = 0.2f;  // the adapter's float action, so both runs follow the same trajectory
  for (auto _ : state) {
    a = -a;
    for (int i = 0; i < m->nu; ++i) {
      const double lo = m->actuator_ctrlrange[2 * i], hi = m->actuator_ctrlrange[2 * i + 1];
      d->ctrl[i] = lo + (double(a) + 1) * 0.5 * (hi - lo);
    }
    for (int f = 0; f < env.config().frame_skip; ++f) mj_step(m, d);
    if (contact_forces) mj_rnePostConstraint(m, d);
    benchmark::DoNotOptimize(d->qpos);
  }
  state.SetItemsProcessed(state.iterations());
}

void reset(benchmark::State& state, const std::string& task) {
  Env env = long_episode(task, static_cast<double>(state.range(0)) / 10.0);
  spindle::Rng rng(0);
  for (auto _ : state) {
    auto o = env.reset(rng);
    benchmark::DoNotOptimize(o.data());
  }
}

void muscle_arm_vector(benchmark::State& state) {
  const auto n = state.range(0);
  spindle::VectorEnv<Env> venv(n, long_episode("muscle_arm"), {.n_threads = static_cast<int>(state.range(1))});
  venv.reset(0);
  Eigen::MatrixXf actions = Eigen::MatrixXf::Constant(n, venv.action_size(), 0.2f);
  for (auto _ : state) {
    actions = -actions;
    venv.step(actions);
    benchmark::DoNotOptimize(venv.observations().data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

std::filesystem::path baoding_scene() {
  const char* dir = std::getenv("SPINDLE_SHARED");
  return std::filesystem::path(dir ? dir : SPINDLE_SHARED_DIR) / "myosuite_envs/myohand_baoding.xml";
}

// The balls drop within ~30 steps of a poor policy: every 20 steps the start state comes back.
constexpr int baoding_stretch = 20;

// A MyoSuite task's whole step through spindle vs sigmoid controls and 10 mj_steps on the same
// model and data (plus, with `observe`, MyoSuite's forwarded observation copy); both restore
// the start state every 20 steps, untimed.
template <class Task, class Config>
void myosuite_spindle(benchmark::State& state, Config config) {
  config.max_episode_steps = 1'000'000'000;
  Task env(config);
  spindle::Rng rng(0);
  env.reset(rng);
  spindle::StateWords start;
  env.save_state(start);
  spindle::Step<spindle::dynamic, float> s;
  Eigen::VectorXf a = Eigen::VectorXf::Constant(env.action_size(), 0.2f);
  int k = 0;
  for (auto _ : state) {
    if (++k % baoding_stretch == 0) {
      state.PauseTiming();
      spindle::StateReader in(start);
      env.load_state(in);
      state.ResumeTiming();
    }
    a = -a;
    env.step(a, s);
    benchmark::DoNotOptimize(s.observation.data());
  }
  state.SetItemsProcessed(state.iterations());
}
template <class Task, class Config>
void myosuite_floor(benchmark::State& state, Config config, bool observe) {
  config.max_episode_steps = 1'000'000'000;
  Task env(config);
  spindle::Rng rng(0);
  env.reset(rng);
  const mjModel* m = env.env().model().get();
  mjData* d = &env.env().data();
  Data start(env.env().model()), observed(env.env().model());
  mj_copyData(start.get(), m, d);
  float a = 0.2f;
  int k = 0;
  for (auto _ : state) {
    if (++k % baoding_stretch == 0) {
      state.PauseTiming();
      mj_copyData(d, m, start.get());
      state.ResumeTiming();
    }
    a = -a;
    const double ctrl = 1.0f / (1.0f + std::exp(-5.0f * (a - 0.5f)));
    for (int i = 0; i < m->nu; ++i) d->ctrl[i] = ctrl;
    for (int f = 0; f < 10; ++f) mj_step(m, d);
    if (observe) {  // MyoSuite: time, qpos, qvel, act into a second mjData, forwarded
      mjData* o = observed.get();
      o->time = d->time;
      std::copy(d->qpos, d->qpos + m->nq, o->qpos);
      std::copy(d->qvel, d->qvel + m->nv, o->qvel);
      std::copy(d->act, d->act + m->na, o->act);
      mj_forward(m, o);
    }
    benchmark::DoNotOptimize(d->qpos);
  }
  state.SetItemsProcessed(state.iterations());
}

const int registered = [] {
  const auto shared = baoding_scene().parent_path().parent_path();
  const auto elbow = shared / "myosuite_envs/myoelbow_1dof6muscles.xml", finger = shared / "myo_sim/finger/myofinger_v0.xml",
             hand = shared / "myosuite_envs/myohand_pose.xml";
  if (std::filesystem::exists(elbow) && std::filesystem::exists(finger) && std::filesystem::exists(hand)) {
    using myosuite::Pose;
    using myosuite::Reach;
    using myosuite::Variant;
    for (const auto& [name, config] : {std::pair{std::string("elbow_pose"), myosuite::elbow_pose(elbow, Variant::random)},
                                       std::pair{std::string("finger_pose"), myosuite::finger_pose(finger, Variant::random)},
                                       std::pair{std::string("hand_pose"), myosuite::hand_pose(hand, Variant::random)}}) {
      benchmark::RegisterBenchmark((name + "/spindle").c_str(), myosuite_spindle<Pose, myosuite::PoseConfig>, config)->UseRealTime();
      benchmark::RegisterBenchmark((name + "/floor").c_str(), myosuite_floor<Pose, myosuite::PoseConfig>, config, false)->UseRealTime();
    }
    const myosuite::ReachConfig reach{.model = hand};
    benchmark::RegisterBenchmark("hand_reach/spindle", myosuite_spindle<Reach, myosuite::ReachConfig>, reach)->UseRealTime();
    benchmark::RegisterBenchmark("hand_reach/floor", myosuite_floor<Reach, myosuite::ReachConfig>, reach, false)->UseRealTime();
  }
  if (std::filesystem::exists(baoding_scene())) {
    using myosuite::Baoding;
    const myosuite::BaodingConfig baoding{.model = baoding_scene()};
    benchmark::RegisterBenchmark("baoding/spindle", myosuite_spindle<Baoding, myosuite::BaodingConfig>, baoding)->UseRealTime();
    benchmark::RegisterBenchmark("baoding/floor", myosuite_floor<Baoding, myosuite::BaodingConfig>, baoding, false)->UseRealTime();
    benchmark::RegisterBenchmark("baoding/floor_myosuite", myosuite_floor<Baoding, myosuite::BaodingConfig>, baoding, true)
        ->UseRealTime();
  }
  for (const std::string task : {"muscle_arm", "quadruped", "runner"}) {
    benchmark::RegisterBenchmark((task + "/spindle").c_str(), step_spindle, task);
    benchmark::RegisterBenchmark((task + "/floor").c_str(), step_floor, task);
    auto* r = benchmark::RegisterBenchmark((task + "/reset").c_str(), reset, task)->ArgName("sigma_x10")->Arg(0);
    if (task != "muscle_arm") r->Arg(3);
  }
  benchmark::RegisterBenchmark("muscle_arm/vector", muscle_arm_vector)
      ->ArgNames({"n", "threads"})->Args({8, 1})->Args({8, 2})->UseRealTime();
  return 0;
}();

}  // namespace

BENCHMARK_MAIN();
