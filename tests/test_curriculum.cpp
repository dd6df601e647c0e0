// Curricula: the scheduler's decisions (threshold, window, hold, regression, step cap,
// interpolation, sampled ranges), environments seeing new parameters only at reset, serial ==
// threaded training, checkpoints that resume mid-stage bit-identically, and clear errors.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <spindle/algo.hpp>
#include <spindle/curriculum.hpp>
#include <spindle/wrappers.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_curriculum {

using namespace spindle;
using namespace spindle::curriculum;

namespace {

// A 1-D reach: move x to a target the curriculum sets; success when within 0.1 at the end.
struct Reach1D {
  static constexpr int obs_dim = 2, act_dim = 1;
  Box<float> action_space{-1.0f, 1.0f, 1};
  double x = 0, target = 0, next_target = 0, noise = 0;
  int t = 0;
  static std::vector<std::string> task_parameters() { return {"target", "noise"}; }
  void set_task(const Params& p) {
    next_target = p["target"];
    noise = p.get("noise", 0.0);
  }
  Eigen::Vector2f reset(Rng& rng) {
    target = next_target;
    x = rng.uniform(-noise, noise);
    t = 0;
    return {float(x), float(target)};
  }
  Step<2> step(const Eigen::Matrix<float, 1, 1>& a) {
    x += 0.2 * std::clamp(double(a(0)), -1.0, 1.0);
    ++t;
    return {{float(x), float(target)}, float(-std::abs(x - target)), false, t >= 20};
  }
  bool success() const { return std::abs(x - target) < 0.1; }
  void save_state(StateWords& out) const {
    for (double v : {x, target, next_target, noise}) put_word(out, v);
    put_word(out, std::int64_t{t});
  }
  void load_state(StateReader& in) {
    for (double* v : {&x, &target, &next_target, &noise}) *v = in.real();
    t = static_cast<int>(in.integer());
  }
};
static_assert(check_task_environment<Reach1D>());

std::vector<Stage> three_stages() {
  return {{.name = "near", .params = {{"target", fixed(0.2)}, {"noise", fixed(0.0)}}},
          {.name = "mid", .params = {{"target", fixed(0.6)}, {"noise", range(0.0, 0.1)}}},
          {.name = "far", .params = {{"target", range(0.8, 1.2)}, {"noise", range(0.0, 0.2)}}}};
}

}  // namespace

TEST_CASE("Scheduler: advances when the success rate over a full window reaches the threshold, not before") {
  Scheduler s(three_stages(), {.window = 4, .threshold = 0.75});
  for (int k = 0; k < 3; ++k) s.record_episode(0, true);
  CHECK_FALSE(s.signal().has_value());  // the window is not full
  CHECK_FALSE(s.update(100));
  s.record_episode(0, false);  // 3 of 4 = 0.75: at the threshold
  CHECK(*s.signal() == doctest::Approx(0.75));
  CHECK(s.update(200));
  CHECK(s.stage() == 1);
  CHECK(s.timeline().size() == 1);
  CHECK(s.timeline()[0].step == 200);
  CHECK(s.timeline()[0].signal == doctest::Approx(0.75));
  // The window restarts with the stage: old episodes do not count.
  CHECK_FALSE(s.signal().has_value());
  for (int k = 0; k < 4; ++k) s.record_episode(0, k < 2);  // 0.5 < 0.75
  CHECK_FALSE(s.update(300));
  s.record_episode(0, true);  // the window slides: true, false, false, true
  CHECK(*s.signal() == doctest::Approx(0.5));
  s.record_episode(0, true);
  s.record_episode(0, true);  // false, true, true, true
  CHECK(*s.signal() == doctest::Approx(0.75));
  CHECK(s.update(400));
  CHECK(s.stage() == 2);
  // The last stage never advances further.
  for (int k = 0; k < 4; ++k) s.record_episode(0, true);
  CHECK_FALSE(s.update(500));
  CHECK(s.stage() == 2);
}

TEST_CASE("Scheduler: hold, min_steps, regression on collapse, step cap, mean return") {
  Scheduler hold(three_stages(), {.window = 2, .threshold = 0.5, .hold = 3});
  hold.record_episode(0, true);
  hold.record_episode(0, true);
  CHECK_FALSE(hold.update(1));
  CHECK_FALSE(hold.update(2));
  CHECK(hold.update(3));  // three consecutive decisions at the threshold

  Scheduler regress(three_stages(), {.window = 2, .threshold = 0.9, .regress_below = 0.3, .min_steps = 10});
  regress.record_episode(0, true);
  regress.record_episode(0, true);
  CHECK_FALSE(regress.update(5));  // before min_steps
  CHECK(regress.update(10));
  regress.record_episode(0, false);
  regress.record_episode(0, false);
  CHECK_FALSE(regress.update(15));  // min_steps counts from the stage's start
  CHECK(regress.update(20));        // collapsed: back to stage 0
  CHECK(regress.stage() == 0);
  CHECK(regress.timeline().back().to == 0);

  std::vector<Stage> capped = three_stages();
  capped[0].max_steps = 1000;
  Scheduler cap(capped, {.signal = Signal::steps});
  CHECK_FALSE(cap.update(999));
  CHECK(cap.update(1000));
  CHECK(cap.timeline().back().forced);
  CHECK_FALSE(cap.update(100000));  // stage 1 has no cap

  Scheduler ret(three_stages(), {.signal = Signal::mean_return, .window = 3, .threshold = -5.0});
  for (double r : {-10.0, -2.0, -1.0}) ret.record_episode(r, false);
  CHECK(*ret.signal() == doctest::Approx(-13.0 / 3));
  CHECK(ret.update(1));
}

TEST_CASE("Scheduler: interpolation from the previous stage and ranges drawn with the environment's generator") {
  std::vector<Stage> capped = three_stages();
  capped[1].interpolate_steps = 100;
  capped[0].max_steps = 50;
  Scheduler t(capped, {.signal = Signal::steps});
  t.update(50);  // forced into stage 1 at step 50
  REQUIRE(t.stage() == 1);
  Rng rng(3);
  CHECK(t.sample(rng)["target"] == doctest::Approx(0.2));  // no step into the stage yet: the old value
  t.update(100);
  CHECK(t.sample(rng)["target"] == doctest::Approx(0.2 + 0.5 * (0.6 - 0.2)));
  t.update(150);
  CHECK(t.sample(rng)["target"] == doctest::Approx(0.6));
  t.update(400);
  CHECK(t.sample(rng)["target"] == doctest::Approx(0.6));
  // Ranges: uniform per episode, from the caller's generator (the same generator gives the same draws).
  Rng a(9), b(9);
  double lo = 1, hi = 0;
  for (int k = 0; k < 200; ++k) {
    const Params p = t.sample(a);
    CHECK(p["noise"] == t.sample(b)["noise"]);
    lo = std::min(lo, p["noise"]);
    hi = std::max(hi, p["noise"]);
  }
  CHECK(lo >= 0.0);
  CHECK(hi <= 0.1);
  CHECK(hi - lo > 0.08);
}

TEST_CASE("Staged: the environment sees a new stage at its next reset, never mid-episode") {
  std::vector<Stage> capped = three_stages();
  capped[0].max_steps = 10;
  auto scheduler = std::make_shared<Scheduler>(capped, Rule{.signal = Signal::steps});
  Staged<Reach1D> env(Reach1D{}, scheduler);
  Rng rng(1);
  env.reset(rng);
  CHECK(env.inner().target == 0.2);
  for (int k = 0; k < 5; ++k) env.step(Eigen::Matrix<float, 1, 1>(1.0f));
  scheduler->update(10);  // stage 1 now
  REQUIRE(scheduler->stage() == 1);
  const auto s = env.step(Eigen::Matrix<float, 1, 1>(1.0f));
  CHECK(s.observation(1) == 0.2f);  // the running episode keeps its target
  env.reset(rng);
  CHECK(env.inner().target == doctest::Approx(0.6));
  CHECK(env.task()["target"] == doctest::Approx(0.6));
}

TEST_CASE("Staged over a wrapper: HistoryWindow passes set_task, task_parameters and success through") {
  using Windowed = HistoryWindow<Reach1D, 2>;
  static_assert(check_task_environment<Windowed>());
  CHECK(Windowed::task_parameters() == Reach1D::task_parameters());
  auto scheduler = std::make_shared<Scheduler>(three_stages(), Rule{.window = 2, .threshold = 1.0});
  Staged<Windowed> env(Windowed(Reach1D{}), scheduler);
  Rng rng(2);
  env.reset(rng);
  CHECK(env.inner().inner().target == 0.2);
  // Drive x to the target: the wrapped task's success() reaches the latch through the window.
  for (int k = 0; k < 20; ++k) env.step(Eigen::Matrix<float, 1, 1>(k == 0 ? 1.0f : 0.0f));
  CHECK(env.inner().success());
  CHECK(env.episode_success());
  env.reset(rng);
  for (int k = 0; k < 20; ++k) env.step(Eigen::Matrix<float, 1, 1>(-1.0f));
  CHECK_FALSE(env.episode_success());
  // An unknown parameter name is still caught through the wrapper.
  CHECK_THROWS_WITH_AS(Staged<Windowed>(Windowed(Reach1D{}),
                                        std::make_shared<Scheduler>(std::vector<Stage>{{.name = "a", .params = {{"speed", fixed(1)}}}})),
                       doctest::Contains("'speed'"), std::invalid_argument);
}

TEST_CASE("Curriculum with PPO: stages advance by success, serial == threaded, a checkpoint resumes mid-stage bit-identically") {
  auto make = [](int threads) {
    algo::PpoConfig c;
    c.n_envs = 4;
    c.n_threads = threads;
    c.n_steps = 64;
    c.batch_size = 64;
    c.n_epochs = 4;
    c.learning_rate = 3e-3;
    c.policy_hidden = c.value_hidden = {16};
    c.seed = 5;
    return c;
  };
  auto run = [&](int threads, long steps) {
    auto scheduler = std::make_shared<Scheduler>(three_stages(), Rule{.window = 20, .threshold = 0.6});
    algo::Ppo<Staged<Reach1D>> ppo(Staged<Reach1D>(Reach1D{}, scheduler), make(threads));
    attach(ppo, scheduler);
    ppo.learn(steps);
    return std::pair{scheduler->timeline(), ppo.policy().values()};
  };
  const auto [serial_timeline, serial_values] = run(1, 20'000);
  const auto [threaded_timeline, threaded_values] = run(2, 20'000);
  CHECK(serial_values == threaded_values);
  REQUIRE(serial_timeline.size() == threaded_timeline.size());
  for (std::size_t k = 0; k < serial_timeline.size(); ++k) CHECK(serial_timeline[k].step == threaded_timeline[k].step);
  MESSAGE("stage changes in 20k steps: " << serial_timeline.size());
  CHECK(serial_timeline.size() >= 1);  // the near target is learned, so the curriculum moves on

  // Resume mid-run: the scheduler's state travels in the algorithm's checkpoint.
  const auto path = std::filesystem::temp_directory_path() / "spindle_test_curriculum.npz";
  auto straight_s = std::make_shared<Scheduler>(three_stages(), Rule{.window = 20, .threshold = 0.6});
  algo::Ppo<Staged<Reach1D>> straight(Staged<Reach1D>(Reach1D{}, straight_s), make(1));
  attach(straight, straight_s);
  straight.learn(12'800);
  auto first_s = std::make_shared<Scheduler>(three_stages(), Rule{.window = 20, .threshold = 0.6});
  algo::Ppo<Staged<Reach1D>> first(Staged<Reach1D>(Reach1D{}, first_s), make(1));
  attach(first, first_s);
  first.learn(6'400);
  first.save(path, [&](io::Checkpoint& ck) { curriculum::save(ck, *first_s); });
  auto resumed_s = std::make_shared<Scheduler>(three_stages(), Rule{.window = 20, .threshold = 0.6});
  algo::Ppo<Staged<Reach1D>> resumed(Staged<Reach1D>(Reach1D{}, resumed_s), make(1));
  attach(resumed, resumed_s);
  CHECK(resumed.load(path, [&](const io::Checkpoint& ck) { curriculum::load(ck, *resumed_s); }) == algo::Resume::exact);
  CHECK(resumed_s->stage() == first_s->stage());
  resumed.learn(12'800);
  CHECK(resumed.policy().values() == straight.policy().values());
  CHECK(resumed_s->stage() == straight_s->stage());
  CHECK(resumed_s->timeline().size() == straight_s->timeline().size());
  std::filesystem::remove(path);
}

TEST_CASE("Curriculum: stages set the trainer's hyperparameters, a resumed run gets its stage's, the progress line shows the stage") {
  auto stages = [] {
    std::vector<Stage> s = three_stages();
    s[0].hyperparameters = {{"learning_rate", 3e-3}, {"ent_coef", 0.0}};
    s[1].hyperparameters = {{"learning_rate", 1e-3}, {"ent_coef", 0.01}};
    s[2].hyperparameters = {{"learning_rate", 3e-4}, {"ent_coef", 0.02}};
    return s;
  };
  algo::PpoConfig c;
  c.n_envs = 4;
  c.n_steps = 64;
  c.batch_size = 64;
  c.n_epochs = 4;
  c.learning_rate = 0.5;  // replaced by stage 0's at attach
  c.policy_hidden = c.value_hidden = {16};
  c.seed = 5;
  const Rule rule{.window = 20, .threshold = 0.6};
  using Algo = algo::Ppo<Staged<Reach1D>>;
  auto scheduler = std::make_shared<Scheduler>(stages(), rule);
  Algo ppo(Staged<Reach1D>(Reach1D{}, scheduler), c);
  int checked = 0;
  ppo.hooks().on_update = [&](const algo::PpoUpdate&) {  // runs after the curriculum's decision
    const auto& h = scheduler->current().hyperparameters;
    CHECK(ppo.config().learning_rate(1.0) == h[0].second);
    CHECK(ppo.config().ent_coef == h[1].second);
    ++checked;
  };
  attach(ppo, scheduler);
  CHECK(ppo.config().learning_rate(1.0) == 3e-3);
  CHECK(ppo.hooks().status().find("stage 1/3 'near'") != std::string::npos);
  ppo.learn(12'800);
  CHECK(checked == 50);
  REQUIRE(scheduler->stage() >= 1);
  CHECK(ppo.config().learning_rate(1.0) == scheduler->current().hyperparameters[0].second);
  MESSAGE("progress note: " << ppo.hooks().status());

  // Resume after the first stage change: the resumed run trains with its stage's settings.
  const auto path = std::filesystem::temp_directory_path() / "spindle_test_curriculum_hyper.npz";
  auto straight_s = std::make_shared<Scheduler>(stages(), rule);
  Algo straight(Staged<Reach1D>(Reach1D{}, straight_s), c);
  attach(straight, straight_s);
  straight.learn(12'800);
  const long change = scheduler->timeline().front().step;
  auto first_s = std::make_shared<Scheduler>(stages(), rule);
  Algo first(Staged<Reach1D>(Reach1D{}, first_s), c);
  attach(first, first_s);
  first.learn(change + 256);
  REQUIRE(first_s->stage() >= 1);
  first.save(path, [&](io::Checkpoint& ck) { curriculum::save(ck, *first_s); });
  auto resumed_s = std::make_shared<Scheduler>(stages(), rule);
  Algo resumed(Staged<Reach1D>(Reach1D{}, resumed_s), c);
  attach(resumed, resumed_s);  // stage 0's settings, until the loaded stage is applied
  CHECK(resumed.load(path, [&](const io::Checkpoint& ck) { curriculum::load(ck, *resumed_s); }) == algo::Resume::exact);
  resumed.learn(12'800);
  CHECK(resumed.policy().values() == straight.policy().values());
  CHECK(resumed_s->timeline().size() == straight_s->timeline().size());
  std::filesystem::remove(path);
}

TEST_CASE("Curriculum with SAC and with recurrent PPO: stages advance by success, and recurrent PPO resumes mid-stage bit-identically") {
  // SAC decides at every vector step (no rollouts): the near target is learned and the curriculum moves on.
  auto sac_s = std::make_shared<Scheduler>(three_stages(), Rule{.window = 20, .threshold = 0.6});
  algo::Sac<Staged<Reach1D>> sac(Staged<Reach1D>(Reach1D{}, sac_s),
                                 {.learning_rate = 1e-3, .learning_starts = 200, .batch_size = 64, .actor_hidden = {32, 32},
                                  .critic_hidden = {32, 32}, .seed = 3});
  attach(sac, sac_s);
  sac.learn(4'000);
  MESSAGE("SAC: stage changes in 4k steps: " << sac_s->timeline().size() << ", stage " << sac_s->stage());
  REQUIRE(sac_s->timeline().size() >= 1);
  CHECK(sac_s->timeline().front().signal >= 0.6);
  CHECK_FALSE(sac_s->timeline().front().forced);

  // Recurrent PPO (an LSTM policy, as the MyoChallenge winners had): between rollouts, as PPO.
  algo::RecurrentPpoConfig c;
  c.ppo.n_envs = 4;
  c.ppo.n_steps = 64;
  c.ppo.batch_size = 64;
  c.ppo.n_epochs = 4;
  c.ppo.learning_rate = 3e-3;
  c.ppo.policy_hidden = c.ppo.value_hidden = {16};
  c.ppo.seed = 5;
  c.lstm_hidden_size = 8;
  using Algo = algo::RecurrentPpo<Staged<Reach1D>>;
  auto make = [&](long steps, const std::filesystem::path& save_to = {}) {
    auto scheduler = std::make_shared<Scheduler>(three_stages(), Rule{.window = 20, .threshold = 0.6});
    auto ppo = std::make_unique<Algo>(Staged<Reach1D>(Reach1D{}, scheduler), c);
    attach(*ppo, scheduler);
    ppo->learn(steps);
    if (!save_to.empty()) ppo->save(save_to, [&](io::Checkpoint& ck) { curriculum::save(ck, *scheduler); });
    return std::pair{std::move(ppo), scheduler};
  };
  const auto [straight, straight_s] = make(12'800);
  MESSAGE("recurrent PPO: stage changes in 12.8k steps: " << straight_s->timeline().size());
  REQUIRE(straight_s->timeline().size() >= 1);
  CHECK_FALSE(straight_s->timeline().front().forced);
  const long change = straight_s->timeline().front().step;
  const auto path = std::filesystem::temp_directory_path() / "spindle_test_curriculum_recurrent.npz";
  const auto [first, first_s] = make(change + 256, path);  // past the first stage change
  REQUIRE(first_s->stage() >= 1);
  auto resumed_s = std::make_shared<Scheduler>(three_stages(), Rule{.window = 20, .threshold = 0.6});
  Algo resumed(Staged<Reach1D>(Reach1D{}, resumed_s), c);
  attach(resumed, resumed_s);
  CHECK(resumed.load(path, [&](const io::Checkpoint& ck) { curriculum::load(ck, *resumed_s); }) == algo::Resume::exact);
  CHECK(resumed_s->stage() == first_s->stage());
  resumed.learn(12'800);
  CHECK(resumed.policy().values() == straight->policy().values());
  CHECK(resumed_s->stage() == straight_s->stage());
  CHECK(resumed_s->timeline().size() == straight_s->timeline().size());
  std::filesystem::remove(path);
}

TEST_CASE("SAC and recurrent PPO take hyperparameters by name, and refuse names they do not know") {
  algo::Sac<Reach1D> sac({}, {.learning_starts = 10, .batch_size = 8, .actor_hidden = {8}, .critic_hidden = {8}});
  sac.set_hyperparameter("learning_rate", 1e-4);
  sac.set_hyperparameter("gamma", 0.9);
  CHECK(sac.config().learning_rate == 1e-4);
  CHECK(sac.config().gamma == 0.9);
  CHECK_THROWS_WITH(sac.set_hyperparameter("ent_coef", 0.1), doctest::Contains("learned (auto_entropy)"));
  CHECK_THROWS_WITH(sac.set_hyperparameter("lr", 0.1), doctest::Contains("no hyperparameter 'lr'"));
  CHECK_THROWS_WITH(sac.set_hyperparameter("tau", 2.0), doctest::Contains("outside (0, 1]"));
  algo::Sac<Reach1D> fixed_alpha({}, {.auto_entropy = false, .ent_coef_init = 0.2, .actor_hidden = {8}, .critic_hidden = {8}});
  fixed_alpha.set_hyperparameter("ent_coef", 0.05);
  CHECK(fixed_alpha.ent_coef() == doctest::Approx(0.05).epsilon(1e-6));
  algo::PpoConfig p;
  CHECK_THROWS_WITH(algo::set_hyperparameter(p, "gamma", 1.5), doctest::Contains("outside [0, 1]"));
  algo::set_hyperparameter(p, "clip_range", 0.1);
  CHECK(p.clip_range(0.3) == 0.1);
}

TEST_CASE("Curriculum: bad configurations are clear errors") {
  CHECK_THROWS_WITH(Scheduler({}, {}), doctest::Contains("no stages"));
  CHECK_THROWS_WITH(Scheduler(three_stages(), {.threshold = 1.5}), doctest::Contains("[0, 1]"));
  CHECK_THROWS_WITH(Scheduler(three_stages(), {.threshold = 0.5, .regress_below = 0.7}), doctest::Contains("below threshold"));
  std::vector<Stage> renamed = three_stages();
  renamed[1].params[0].first = "goal";
  CHECK_THROWS_WITH(Scheduler(renamed, {}), doctest::Contains("'goal'"));
  std::vector<Stage> unknown = {{.params = {{"speed", fixed(1)}}}};
  CHECK_THROWS_WITH(Staged<Reach1D>(Reach1D{}, std::make_shared<Scheduler>(unknown, Rule{})),
                    doctest::Contains("'speed', which the task does not know (its parameters: target, noise)"));
  std::vector<Stage> partial = three_stages();
  partial[1].hyperparameters = {{"learning_rate", 1e-3}};
  CHECK_THROWS_WITH(Scheduler(partial, {}), doctest::Contains("stage 0 does not set hyperparameter 'learning_rate'"));
  std::vector<Stage> misnamed = three_stages();
  for (auto& st : misnamed) st.hyperparameters = {{"lr", 1e-3}};
  auto misnamed_s = std::make_shared<Scheduler>(misnamed, Rule{});
  algo::Ppo<Staged<Reach1D>> ppo(Staged<Reach1D>(Reach1D{}, misnamed_s), {.n_steps = 16, .batch_size = 16});
  CHECK_THROWS_WITH(attach(ppo, misnamed_s), doctest::Contains("no hyperparameter 'lr'"));
  const Params p({"a"}, Eigen::VectorXd::Ones(1));
  CHECK_THROWS_WITH(p["b"], doctest::Contains("no parameter 'b'"));
}

}  // namespace test_curriculum
