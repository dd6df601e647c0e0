// The MuJoCo adapter: any MJCF (here a small arm written in the test) through the same Env.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <spindle/algo.hpp>
#include <spindle/core.hpp>
#include <spindle/mujoco.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_mujoco {

using namespace spindle;
using namespace spindle::mujoco;

namespace {

std::string arm_xml(double gear = 1.0) {
  return R"(<mujoco model="arm">
  <option timestep="0.01"/>
  <worldbody>
    <body name="upper">
      <joint name="shoulder" type="hinge" axis="0 0 1" damping="0.1"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03"/>
      <body name="lower" pos="0.3 0 0">
        <joint name="elbow" type="hinge" axis="0 0 1" damping="0.1"/>
        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor joint="shoulder" ctrllimited="true" ctrlrange="-2 2" gear=")" + std::to_string(gear) + R"("/>
    <motor joint="elbow" ctrllimited="true" ctrlrange="-1 3" gear=")" + std::to_string(gear) + R"("/>
  </actuator>
</mujoco>)";
}

Env arm(double gear = 1.0, EnvConfig c = {.frame_skip = 2, .reset_noise_qpos = 0.1, .reset_noise_qvel = 0.1,
                                          .max_episode_steps = 50}) {
  c.observation = {obs::qpos(), obs::qvel(), obs::body_position("lower")};
  Task task;
  task.reward = [](const StepView& s) { return -(s.data.qpos[0] * s.data.qpos[0]); };
  task.terminated = [](const StepView& s) { return s.data.qpos[1] > 3.0; };
  return Env(Model::from_xml(arm_xml(gear)), c, task);
}

}  // namespace

static_assert(spindle::check_environment<Env>());

TEST_CASE("MuJoCo: a user MJCF loads with the declared observation and its actuators as actions") {
  Env env = arm();
  CHECK(env.observation_size() == 2 + 2 + 3);
  CHECK(env.action_size() == 2);
  CHECK(env.action_space().size() == 2);
  Rng rng(1);
  const Eigen::VectorXf o = env.reset(rng);
  REQUIRE(o.size() == 7);
  CHECK(std::abs(o(0)) <= 0.1f);
  // Actions map through each ctrlrange: −1 → low, 1 → high, 0 → the middle.
  env.step(Eigen::Vector2f(1.0f, -1.0f));
  CHECK(env.data().ctrl[0] == 2.0);
  CHECK(env.data().ctrl[1] == -1.0);
  env.step(Eigen::Vector2f(0.0f, 0.0f));
  CHECK(env.data().ctrl[0] == 0.0);
  CHECK(env.data().ctrl[1] == 1.0);
  CHECK(env.data().time == doctest::Approx(4 * 0.01));  // frame_skip 2
}

TEST_CASE("MuJoCo: a missing or invalid MJCF throws with MuJoCo's own message") {
  CHECK_THROWS_WITH_AS(Model::from_file("/nonexistent/arm.xml"), doctest::Contains("/nonexistent/arm.xml"), model_error);
  try {
    Model::from_xml("<mujoco><worldbody><body><geom type=\"sphere\"/></body></worldbody>", "broken.xml");
    FAIL("expected model_error");
  } catch (const model_error& e) {
    const std::string what = e.what();
    CHECK(what.find("broken.xml") != std::string::npos);
    CHECK(what.find("Line number=1") != std::string::npos);  // MuJoCo's parser names the place
  }
  try {
    Model::from_xml("<mujoco><worldbody>\n<body>\n<geom type=\"sphre\" size=\"1\"/></body></worldbody></mujoco>", "typo.xml");
    FAIL("expected model_error");
  } catch (const model_error& e) {
    CHECK(std::string(e.what()).find("invalid keyword: 'sphre'") != std::string::npos);
    CHECK(std::string(e.what()).find("line 3") != std::string::npos);
  }
  EnvConfig c;
  c.observation = {obs::body_position("no_such_body")};
  CHECK_THROWS_WITH(Env(Model::from_xml(arm_xml()), c), doctest::Contains("no_such_body"));
}

TEST_CASE("MuJoCo: one seed gives one trajectory, serial and threaded vector envs agree bit for bit") {
  auto run = [](int threads) {
    VectorEnv<Env> venv(4, arm(), {.n_threads = threads});
    venv.reset(7);
    Rng rng(3);
    Eigen::MatrixXf actions(4, 2), trace(0, 7);
    std::vector<float> all;
    for (int t = 0; t < 120; ++t) {  // crosses the 50-step truncation: auto-resets included
      for (Eigen::Index i = 0; i < actions.size(); ++i) actions(i) = rng.uniform<float>(-1.0f, 1.0f);
      venv.step(actions);
      const auto o = venv.observations();
      all.insert(all.end(), o.data(), o.data() + o.size());
      for (Eigen::Index i = 0; i < 4; ++i) all.push_back(venv.rewards()(i));
    }
    return all;
  };
  const auto serial = run(1);
  CHECK(serial == run(1));
  CHECK(serial == run(2));
}

TEST_CASE("MuJoCo: NaN actions throw, an unstable simulation ends the episode with a flag and a count") {
  Env env = arm();
  Rng rng(1);
  env.reset(rng);
  CHECK_THROWS_AS(env.step(Eigen::Vector2f(std::nanf(""), 0.0f)), non_finite_error);
  CHECK_THROWS_AS(env.step(Eigen::Vector3f(0.0f, 0.0f, 0.0f)), shape_error);

  Env wild = arm(1e12);  // absurd gains: MuJoCo flags a bad acceleration and resets its data
  wild.reset(rng);
  const auto s = wild.step(Eigen::Vector2f(1.0f, 1.0f));
  CHECK(wild.unstable());
  CHECK(s.truncated);
  CHECK_FALSE(s.terminated);
  CHECK(s.observation.allFinite());
  CHECK(wild.instability_count() == 1);
}

TEST_CASE("MuJoCo: save_state / load_state continue a trajectory exactly") {
  Env a = arm(), b = arm();
  Rng rng(5);
  a.reset(rng);
  for (int t = 0; t < 10; ++t) a.step(Eigen::Vector2f(0.3f, -0.2f));
  StateWords words;
  a.save_state(words);
  StateReader in(words);
  b.load_state(in);
  for (int t = 0; t < 20; ++t) {
    const auto sa = a.step(Eigen::Vector2f(0.5f, 0.1f));
    const auto sb = b.step(Eigen::Vector2f(0.5f, 0.1f));
    CHECK(sa.observation == sb.observation);
    CHECK(sa.reward == sb.reward);
    CHECK(sa.truncated == sb.truncated);
  }
}

TEST_CASE("MuJoCo: PPO trains through the adapter and resumes bit-identically") {
  algo::PpoConfig c;
  c.n_steps = 32;
  c.n_envs = 2;
  c.batch_size = 32;
  c.n_epochs = 2;
  c.policy_hidden = {16};
  c.value_hidden = {16};
  c.normalize_observations = true;
  const auto path = std::filesystem::temp_directory_path() / "spindle_test_mujoco_ppo.npz";
  algo::Ppo<Env> straight(arm(), c);
  straight.learn(256);
  algo::Ppo<Env> first(arm(), c);
  first.learn(128);
  first.save(path);
  algo::Ppo<Env> resumed(arm(), c);
  resumed.load(path);
  resumed.learn(256);
  CHECK(resumed.policy().values() == straight.policy().values());
  CHECK(std::isfinite(resumed.evaluate(1)));
  std::filesystem::remove(path);
}

TEST_CASE("MuJoCo muscle arm: six muscles, a random target per episode, reward, success and effort") {
  Env env = muscle_arm();
  const mjModel& m = *env.model();
  CHECK(m.nu == 6);
  CHECK(m.na == 6);  // one activation state per muscle
  for (int i = 0; i < m.nu; ++i) CHECK(m.actuator_dyntype[i] == mjDYN_MUSCLE);
  CHECK(env.observation_size() == 2 + 2 + 6 + 2 + 2);
  Rng rng(4);
  const Eigen::VectorXf o1 = env.reset(rng), o2 = env.reset(rng);
  CHECK((o1.tail(2) - o2.tail(2)).norm() > 0.0f);  // a new target
  CHECK(o1.tail(2).norm() < 0.6f);                   // inside the reachable workspace
  // Full excitation raises the activations (muscles take time: first-order dynamics).
  Step<spindle::dynamic, float> s;
  for (int t = 0; t < 10; ++t) env.step(Eigen::VectorXf::Ones(6), s);
  CHECK(s.observation.segment(4, 6).minCoeff() > 0.5f);
  CHECK(env.episode_effort() > 0.2);
  CHECK(env.episode_effort() <= 1.0);
  const double dist = (s.observation.segment(10, 2) - s.observation.tail(2)).norm();
  CHECK(s.reward == doctest::Approx(-dist - 0.1 * mean_squared_activation(m, env.data()) + (dist < 0.05 ? 1.0 : 0.0)).epsilon(1e-4));
  CHECK(env.success() == (dist < 0.05));
  // Excitation 0 everywhere (action −1) lets the activations decay.
  for (int t = 0; t < 30; ++t) env.step(-Eigen::VectorXf::Ones(6), s);
  CHECK(s.observation.segment(4, 6).maxCoeff() < 0.1f);
}

TEST_CASE("MuJoCo quadruped: nominal body, σ = 0 is the nominal model, σ > 0 scales sizes, lengths and masses") {
  Env nominal = quadruped();
  const mjModel& m = *nominal.model();
  CHECK(m.nu == 8);
  CHECK(nominal.observation_size() == 13 + 14 + 6);
  CHECK(nominal.perturbation().size() == 0);
  // σ = 0: the factors 1 regenerate the nominal text exactly.
  const QuadrupedBody body;
  CHECK(quadruped_xml(scaled(body, Eigen::VectorXd::Ones(9))) == quadruped_xml(body));

  QuadrupedConfig c;
  c.sigma = 0.3;
  Env perturbed = quadruped(c);
  Rng rng(3);
  for (int episode = 0; episode < 3; ++episode) {
    const Eigen::VectorXf o = perturbed.reset(rng);
    CHECK(o.allFinite());
    const Eigen::VectorXd p = perturbed.perturbation();
    REQUIRE(p.size() == 9);
    CHECK(p.cwiseAbs().maxCoeff() <= 0.3);
    const mjModel& q = *perturbed.model();
    const int torso = mj_name2id(&q, mjOBJ_BODY, "torso");
    const int torso_geom = mj_name2id(&q, mjOBJ_GEOM, "torso_geom");
    CHECK(q.geom_size[3 * torso_geom] == doctest::Approx(0.25 * (1 + p(0))));
    // mass from a fixed density: the torso sphere's mass scales with the cube of its radius
    const int m_torso = mj_name2id(&m, mjOBJ_BODY, "torso");
    CHECK(q.body_mass[torso] / m.body_mass[m_torso] == doctest::Approx(std::pow(1 + p(0), 3)));
    for (int k = 0; k < 4; ++k) {
      CAPTURE(k);
      const std::string n = std::to_string(k + 1);
      const int foot = mj_name2id(&q, mjOBJ_GEOM, ("foot" + n).c_str());
      CHECK(q.geom_size[3 * foot] == doctest::Approx(0.08 * (1 + p(1 + k))));
      // the shin body sits at the end of the scaled thigh
      const int shin = mj_name2id(&q, mjOBJ_BODY, ("shin" + n).c_str());
      const double reach = std::hypot(q.body_pos[3 * shin], q.body_pos[3 * shin + 1]);
      CHECK(reach == doctest::Approx(0.2828 * (1 + p(5 + k))));
    }
  }
  // Bodies differ between episodes, and stepping works on them.
  Step<spindle::dynamic, float> s;
  for (int t = 0; t < 20; ++t) perturbed.step(Eigen::VectorXf::Constant(8, 0.3f), s);
  CHECK(s.observation.allFinite());
}

TEST_CASE("MuJoCo: a perturbed body is checkpointed as its perturbation and rebuilt identically") {
  QuadrupedConfig c;
  c.sigma = 0.3;
  Env a = quadruped(c), b = quadruped(c);
  Rng rng_a(11), rng_b(12);
  a.reset(rng_a);
  b.reset(rng_b);  // another body
  REQUIRE(a.perturbation() != b.perturbation());
  Step<spindle::dynamic, float> sa, sb;
  for (int t = 0; t < 15; ++t) a.step(Eigen::VectorXf::Constant(8, 0.2f), sa);
  StateWords words;
  a.save_state(words);
  StateReader in(words);
  b.load_state(in);
  CHECK(b.perturbation() == a.perturbation());
  const mjModel& ma = *a.model();
  const mjModel& mb = *b.model();
  CHECK(std::equal(ma.geom_size, ma.geom_size + 3 * ma.ngeom, mb.geom_size));
  CHECK(std::equal(ma.body_mass, ma.body_mass + ma.nbody, mb.body_mass));
  for (int t = 0; t < 30; ++t) {
    a.step(Eigen::VectorXf::Constant(8, -0.4f), sa);
    b.step(Eigen::VectorXf::Constant(8, -0.4f), sb);
    CHECK(sa.observation == sb.observation);
    CHECK(sa.reward == sb.reward);
  }
  // The state of a body never perturbed (saved before its first reset) brings the nominal body back.
  const Env fresh = quadruped(c);
  StateWords nominal_words;
  fresh.save_state(nominal_words);
  StateReader nominal_in(nominal_words);
  b.load_state(nominal_in);
  CHECK(b.perturbation().size() == 0);
  CHECK(b.model()->body_mass[1] == quadruped().model()->body_mass[1]);
  // An unperturbed environment refuses a perturbed body's state.
  Env plain = quadruped();
  StateReader again(words);
  CHECK_THROWS_AS(plain.load_state(again), std::invalid_argument);
  // Time inside MuJoCo is counted.
  CHECK(a.physics_seconds() > 0.0);
}

TEST_CASE("MuJoCo runner: planar, 6 motors, runs forward, σ scales its 7 parameters") {
  Env nominal = runner();
  CHECK(nominal.action_size() == 6);
  CHECK(nominal.observation_size() == 8 + 9);
  CHECK(runner_xml(scaled(RunnerBody{}, Eigen::VectorXd::Ones(7))) == runner_xml(RunnerBody{}));
  Rng rng(2);
  nominal.reset(rng);
  Step<spindle::dynamic, float> s;
  for (int t = 0; t < 50; ++t) nominal.step(Eigen::VectorXf::Constant(6, t % 2 ? 0.5f : -0.5f), s);
  CHECK(s.observation.allFinite());
  CHECK_FALSE(s.terminated);

  RunnerConfig c;
  c.sigma = 0.5;
  Env perturbed = runner(c);
  perturbed.reset(rng);
  const Eigen::VectorXd p = perturbed.perturbation();
  REQUIRE(p.size() == 7);
  const mjModel& q = *perturbed.model();
  const int bshin = mj_name2id(&q, mjOBJ_BODY, "bshin"), ffoot = mj_name2id(&q, mjOBJ_BODY, "ffoot");
  CHECK(-q.body_pos[3 * bshin + 2] == doctest::Approx(0.29 * (1 + p(3))));  // at the end of the back thigh
  CHECK(-q.body_pos[3 * ffoot + 2] == doctest::Approx(0.21 * (1 + p(6))));  // at the end of the front shin
  const int torso_geom = mj_name2id(&q, mjOBJ_GEOM, "torso_geom");
  CHECK(q.geom_size[3 * torso_geom] == doctest::Approx(0.046 * (1 + p(0))));
}

// ---------------------------------------------------------------- resume, accessors, messages
namespace {

// A free-floating ball next to a two-joint arm with a ball joint: quaternions in qpos.
std::string free_body_xml() {
  return R"(<mujoco model="free">
  <option timestep="0.005"/>
  <worldbody>
    <geom type="plane" size="2 2 0.1"/>
    <body name="ball" pos="0.4 0 0.3">
      <freejoint name="ball_free"/>
      <geom type="sphere" size="0.05" mass="0.2"/>
      <site name="ball_site" pos="0 0 0.05"/>
    </body>
    <body name="upper" pos="0 0 0.1">
      <joint name="shoulder" type="ball" damping="0.05"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03"/>
      <body name="lower" pos="0.3 0 0">
        <joint name="elbow" type="hinge" axis="0 0 1" damping="0.1"/>
        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03"/>
        <site name="tip" pos="0.3 0 0"/>
      </body>
    </body>
  </worldbody>
  <tendon><fixed name="elbow_tendon"><joint joint="elbow" coef="1"/></fixed></tendon>
  <actuator>
    <motor name="elbow_motor" joint="elbow" ctrllimited="true" ctrlrange="-1 1"/>
    <motor joint="shoulder" gear="0 0 1 0 0 0" ctrllimited="true" ctrlrange="-1 1"/>
  </actuator>
  <sensor><jointpos name="elbow_angle" joint="elbow"/></sensor>
</mujoco>)";
}

Env free_body(QuaternionNoise q = QuaternionNoise::add) {
  return Env(Model::from_xml(free_body_xml()),
             {.frame_skip = 5, .reset_noise_qpos = 0.01, .reset_noise_qvel = 0.01, .quaternion_noise = q,
              .max_episode_steps = 0, .observation = {obs::qpos(), obs::qvel(), obs::body_position("ball")}});
}

bool same_bits(const mjtNum* a, const mjtNum* b, int n) { return std::memcmp(a, b, sizeof(mjtNum) * n) == 0; }

// Runs `steps` random steps on a and (after the copy) b, comparing qpos/qvel/act bit for bit.
void expect_identical_continuation(Env& a, Env& b, int steps, int act_size, std::uint64_t seed) {
  Rng actions(seed);
  Step<spindle::dynamic, float> sa, sb;
  const mjModel& m = *a.model();
  for (int t = 0; t < steps; ++t) {
    Eigen::VectorXf u(act_size);
    for (auto& x : u) x = actions.uniform<float>(-1.0f, 1.0f);
    a.step(u, sa);
    b.step(u, sb);
    CAPTURE(t);
    REQUIRE(same_bits(a.data().qpos, b.data().qpos, m.nq));
    REQUIRE(same_bits(a.data().qvel, b.data().qvel, m.nv));
    REQUIRE(same_bits(a.data().act, b.data().act, m.na));
    REQUIRE(std::memcmp(sa.observation.data(), sb.observation.data(), sizeof(float) * sa.observation.size()) == 0);
    REQUIRE(std::memcmp(&sa.reward, &sb.reward, sizeof(float)) == 0);
  }
}

}  // namespace

TEST_CASE("MuJoCo: load_state resumes bit-identically with free and ball joints (quaternions in qpos)") {
  Env a = free_body(), b = free_body();
  Rng rng(5);
  a.reset(rng);
  Rng actions(9);
  Step<spindle::dynamic, float> s;
  for (int t = 0; t < 60; ++t) a.step(Eigen::Vector2f(actions.uniform<float>(-1, 1), actions.uniform<float>(-1, 1)), s);
  StateWords words;
  a.save_state(words);
  StateReader in(words);
  b.load_state(in);
  const mjModel& m = *a.model();
  // Right after loading: the raw state, unnormalised quaternions included, is the saved one.
  CHECK(same_bits(a.data().qpos, b.data().qpos, m.nq));
  CHECK(same_bits(a.data().qvel, b.data().qvel, m.nv));
  CHECK(same_bits(a.data().qacc_warmstart, b.data().qacc_warmstart, m.nv));
  expect_identical_continuation(a, b, 400, 2, 21);
}

TEST_CASE("MuJoCo: the quadruped's free torso resumes bit-identically over hundreds of steps") {
  for (double sigma : {0.0, 0.3}) {
    CAPTURE(sigma);
    QuadrupedConfig c;
    c.sigma = sigma;
    Env a = quadruped(c), b = quadruped(c);
    Rng rng(8);
    a.reset(rng);
    Step<spindle::dynamic, float> s;
    Rng actions(2);
    for (int t = 0; t < 40; ++t) {
      Eigen::VectorXf u(8);
      for (auto& x : u) x = actions.uniform<float>(-1.0f, 1.0f);
      a.step(u, s);
    }
    StateWords words;
    a.save_state(words);
    StateReader in(words);
    b.load_state(in);
    expect_identical_continuation(a, b, 300, 8, 4);
  }
}

TEST_CASE("MuJoCo muscle arm: a resumed episode keeps its target (mocap poses are part of the state)") {
  Env a = muscle_arm(), b = muscle_arm();
  Rng rng(6);
  a.reset(rng);
  Step<spindle::dynamic, float> s;
  for (int t = 0; t < 20; ++t) a.step(Eigen::VectorXf::Constant(6, 0.2f), s);
  StateWords words;
  a.save_state(words);
  StateReader in(words);
  b.load_state(in);
  CHECK(same_bits(a.data().mocap_pos, b.data().mocap_pos, 3 * a.model()->nmocap));
  expect_identical_continuation(a, b, 80, 6, 3);
}

TEST_CASE("MuJoCo: states saved in the first format (before mocap poses were saved) still load") {
  Env a = arm(), b = arm();
  Rng rng(2);
  a.reset(rng);
  for (int t = 0; t < 5; ++t) a.step(Eigen::Vector2f(0.3f, -0.2f));
  // Format 1: perturbation size, time, qpos, qvel, act, ctrl, warm start, counters.
  const mjModel& m = *a.model();
  const mjData& d = a.data();
  StateWords old;
  put_word(old, std::int64_t{0});
  put_word(old, d.time);
  for (auto [p, n] : {std::pair{d.qpos, m.nq}, {d.qvel, m.nv}, {d.act, m.na}, {d.ctrl, m.nu}, {d.qacc_warmstart, m.nv}})
    for (int i = 0; i < n; ++i) put_word(old, p[i]);
  put_word(old, std::int64_t{a.episode_steps()});
  put_word(old, a.episode_effort());
  put_word(old, std::int64_t{0});
  StateReader in(old);
  b.load_state(in);
  CHECK(in.finished());
  expect_identical_continuation(a, b, 30, 2, 1);
}

TEST_CASE("MuJoCo: named handles resolve once and read the state by name") {
  Model model = Model::from_xml(free_body_xml());
  const BodyId ball = model.body("ball");
  const SiteId tip = model.site("tip");
  const JointId elbow = model.joint("elbow"), free = model.joint("ball_free"), shoulder = model.joint("shoulder");
  const SensorId angle = model.sensor("elbow_angle");
  const TendonId tendon = model.tendon("elbow_tendon");
  const ActuatorId motor = model.actuator("elbow_motor");
  CHECK_THROWS_WITH(model.body("no_such_body"), doctest::Contains("no body named 'no_such_body'"));
  CHECK_THROWS_WITH(model.site("nope"), doctest::Contains("no site named 'nope'"));

  double reward_seen = 0;
  Env env(std::move(model), {.frame_skip = 2, .observation = {obs::qpos()}},
          {.reward = [&, ball, tip](const StepView& s) {
            reward_seen = -(s.position(ball) - s.position(tip)).norm();
            return reward_seen;
          }});
  Rng rng(1);
  env.reset(rng);
  Step<spindle::dynamic, float> st;
  env.step(Eigen::Vector2f(0.7f, -0.3f), st);
  const mjModel& m = *env.model();
  const mjData& d = env.data();
  const StateView v = env.view();
  const int b = mj_name2id(&m, mjOBJ_BODY, "ball"), site = mj_name2id(&m, mjOBJ_SITE, "tip");
  CHECK(v.position(ball) == Eigen::Vector3d(d.xpos[3 * b], d.xpos[3 * b + 1], d.xpos[3 * b + 2]));
  CHECK(v.position(tip) == Eigen::Vector3d(d.site_xpos[3 * site], d.site_xpos[3 * site + 1], d.site_xpos[3 * site + 2]));
  CHECK(st.reward == doctest::Approx(reward_seen).epsilon(1e-6));
  CHECK(v.qpos(free).size() == 7);
  CHECK(v.qvel(free).size() == 6);
  CHECK(v.qpos(shoulder).size() == 4);
  CHECK(v.qvel(shoulder).size() == 3);
  CHECK(v.qpos(elbow).size() == 1);
  CHECK(v.joint_position(elbow) == d.qpos[m.jnt_qposadr[mj_name2id(&m, mjOBJ_JOINT, "elbow")]]);
  // Sensors and tendons are computed at the start of mj_step's last substep, qpos after it.
  CHECK(v.sensor(angle).size() == 1);
  CHECK(v.sensor(angle)[0] == d.sensordata[m.sensor_adr[mj_name2id(&m, mjOBJ_SENSOR, "elbow_angle")]]);
  CHECK(v.tendon_length(tendon) == doctest::Approx(v.sensor(angle)[0]).epsilon(1e-12));
  CHECK(v.control(motor) == doctest::Approx(0.7));
  CHECK(v.activation(motor) == 0.0);  // a plain motor has no activation state
  CHECK((v.orientation(ball) * v.orientation(ball).transpose()).isIdentity(1e-9));  // a rotation

  // The factory form resolves names from the model the environment is built on.
  Env built(Model::from_xml(free_body_xml()), {.observation = {obs::qpos()}}, [](const Model& mm) {
    return Task{.reward = [h = mm.body("ball")](const StepView& s) { return s.position(h).z(); }};
  });
  built.reset(rng);
  built.step(Eigen::Vector2f(0.0f, 0.0f), st);
  CHECK(st.reward == doctest::Approx(built.view().position(built.model().body("ball")).z()).epsilon(1e-6));
  CHECK_THROWS_WITH(Env(Model::from_xml(free_body_xml()), {}, [](const Model& mm) {
                      return Task{.reward = [h = mm.body("hand")](const StepView& s) { return s.position(h).z(); }};
                    }),
                    doctest::Contains("no body named 'hand'"));
}

TEST_CASE("MuJoCo: reset noise on free and ball joints: added (default), rotated, or none") {
  const int free_quat = 3, ball_quat = 7;  // qpos: ball free joint (3 + 4), shoulder ball (4), elbow (1)
  Rng rng(3);
  Env none = free_body(QuaternionNoise::none);
  none.reset(rng);
  const mjModel& m = *none.model();
  for (int k = 0; k < 4; ++k) {
    CHECK(none.data().qpos[free_quat + k] == m.qpos0[free_quat + k]);
    CHECK(none.data().qpos[ball_quat + k] == m.qpos0[ball_quat + k]);
  }
  CHECK(none.data().qpos[0] != m.qpos0[0]);  // positions still get noise
  CHECK(none.data().qpos[11] != m.qpos0[11]);

  Env rotated = free_body(QuaternionNoise::rotate);
  rotated.reset(rng);
  const mjtNum* q = rotated.data().qpos + free_quat;
  CHECK(std::sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]) == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(q[0] != 1.0);  // rotated away from the identity
  CHECK(std::abs(q[0]) > std::cos(0.5 * std::sqrt(3.0) * 0.01) - 1e-12);  // by at most |r| ≤ √3·0.01

  // The default adds to each component (Gymnasium's Ant), changing the orientation too.
  Env added = free_body();
  added.reset(rng);
  CHECK(added.data().qpos[free_quat] != m.qpos0[free_quat]);
}

TEST_CASE("MuJoCo: set_state starts an episode in a given (qpos, qvel, act) and returns its observation") {
  static_assert(spindle::StatefulEnvironment<Env>);
  Env a = muscle_arm(), b = muscle_arm();
  Rng rng(7);
  a.reset(rng);
  b.reset(rng);
  Step<spindle::dynamic, float> s;
  for (int t = 0; t < 10; ++t) a.step(Eigen::VectorXf::Constant(6, 0.5f), s);
  const Env::State state = a.state();
  CHECK(state.size() == a.model()->nq + a.model()->nv + a.model()->na);
  const Eigen::VectorXf o = b.set_state(state);
  CHECK(b.state() == state);
  CHECK(b.episode_steps() == 0);
  CHECK(o.head(10) == s.observation.head(10));  // joints, velocities, activations (targets differ)
  CHECK_THROWS_AS(b.set_state(Eigen::VectorXd::Zero(3)), shape_error);
}

TEST_CASE("MuJoCo: warnings never write MUJOCO_LOG.TXT, and the message is kept") {
  const auto dir = std::filesystem::temp_directory_path() / "spindle_test_mujoco_log";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  {
    Env wild = arm(1e12);
    Rng rng(1);
    wild.reset(rng);
    wild.step(Eigen::Vector2f(1.0f, 1.0f));
    CHECK(wild.unstable());
    CHECK(Env::last_warning().find("unstable") != std::string::npos);
  }
  // A MuJoCo error (mju_error: its stack ran out, ...) throws instead of ending the process.
  CHECK_THROWS_WITH_AS(mju_error("test error"), "MuJoCo: test error", simulation_error);
  std::filesystem::current_path(previous);
  CHECK_FALSE(std::filesystem::exists(dir / "MUJOCO_LOG.TXT"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("MuJoCo: a model error leads with one line naming the file, the line and the reason") {
  try {
    Model::from_xml("<mujoco><worldbody>\n<body>\n<geom type=\"sphre\" size=\"1\"/></body></worldbody></mujoco>", "typo.xml");
    FAIL("expected model_error");
  } catch (const model_error& e) {
    const std::string what = e.what();
    CHECK(what.substr(0, what.find('\n')) == "MuJoCo model 'typo.xml' (in memory), line 3: invalid keyword: 'sphre'");
    CHECK(what.find("Element 'geom', line 3") != std::string::npos);  // MuJoCo's own text follows
  }
  try {  // a compiler error names the place as "line = N"
    Model::from_xml("<mujoco><worldbody><body><joint name=\"j\"/><geom size=\"0.1\"/></body></worldbody>"
                    "<actuator><motor joint=\"nope\"/></actuator></mujoco>",
                    "actuator.xml");
    FAIL("expected model_error");
  } catch (const model_error& e) {
    const std::string what = e.what();
    CHECK(what.substr(0, what.find('\n')) ==
          "MuJoCo model 'actuator.xml' (in memory), line 1: unknown transmission target 'nope' for actuator id = 0");
  }
}

TEST_CASE("MuJoCo: privileged information is the body's perturbation, per episode, in the vector too") {
  static_assert(PrivilegedEnvironment<Env>);
  const Env nominal = quadruped();
  CHECK(nominal.privileged_size() == QuadrupedBody::parameters);
  CHECK(nominal.privileged() == Eigen::VectorXd::Zero(QuadrupedBody::parameters));  // p = 0: the nominal body
  QuadrupedConfig c;
  c.sigma = 0.3;
  c.episode_steps = 5;
  VectorEnv<Env> venv(2, quadruped(c));
  venv.reset(4);
  for (Eigen::Index i = 0; i < 2; ++i) {
    CHECK(venv.privileged().row(i).transpose() == venv.env(i).perturbation().cast<float>());
    CHECK(venv.env(i).perturbation().cwiseAbs().maxCoeff() <= 0.3);
    CHECK(venv.env(i).perturbation().cwiseAbs().maxCoeff() > 0);
  }
  const Eigen::MatrixXf first = venv.privileged();
  CHECK(first.row(0) != first.row(1));
  const Eigen::MatrixXf zeros = Eigen::MatrixXf::Zero(2, venv.action_size());
  for (int s = 0; s < 5; ++s) venv.step(zeros);  // the time limit: every copy starts a new body
  CHECK(venv.done(0));
  CHECK(Eigen::MatrixXf(venv.final_privileged()) == first);  // the ended episode's body
  for (Eigen::Index i = 0; i < 2; ++i)
    CHECK(venv.privileged().row(i).transpose() == venv.env(i).perturbation().cast<float>());
  CHECK(Eigen::MatrixXf(venv.privileged()) != first);
  // The observation does not contain p: the same state gives the same observation for any body.
  CHECK(venv.observation_size() == quadruped().observation_size());
}

}  // namespace test_mujoco
