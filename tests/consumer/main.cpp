// Out-of-tree consumer built by the install.find_package_consumer CTest test, written from the
// README alone: one include, a user's environment, PPO with Lattice and with the Gaussian, a
// saved policy run as a controller. Its exit code is the check.
#include <spindle/spindle.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>

// The README's environment: a point that moves towards a target.
struct Reacher {
  static constexpr int obs_dim = 4, act_dim = 2;
  spindle::Box<float> action_space{-1.0f, 1.0f, act_dim};
  Eigen::Vector2f position, target;
  int t = 0;

  Eigen::Vector4f reset(spindle::Rng& rng) {
    position.setZero();
    target = {rng.uniform(-1.0f, 1.0f), rng.uniform(-1.0f, 1.0f)};
    t = 0;
    return {position.x(), position.y(), target.x(), target.y()};
  }
  spindle::Step<obs_dim> step(const Eigen::Vector2f& a) {
    position += 0.1f * a.cwiseMax(-1.0f).cwiseMin(1.0f);
    ++t;
    return {{position.x(), position.y(), target.x(), target.y()}, -(position - target).norm(), false, t >= 50};
  }
};
static_assert(spindle::check_environment<Reacher>());

// The README's controller: a trained policy from its checkpoint, nothing else.
double run_controller(const std::filesystem::path& checkpoint) {
  spindle::deploy::Policy<spindle::noise::Lattice<float>> policy(checkpoint);
  Reacher reacher;
  spindle::Rng rng(123);
  Eigen::Vector4f observation = reacher.reset(rng);
  Eigen::Vector2f action;
  double total = 0;
  for (int t = 0; t < 50; ++t) {
    policy.act(observation, action);  // deterministic; policy.sample(observation, action, rng) explores
    const auto step = reacher.step(action);
    total += step.reward;
    observation = step.observation;
  }
  return total;
}

int main() {
  using namespace spindle;
  algo::PpoConfig config{.learning_rate = 1e-3, .n_steps = 256, .batch_size = 64, .n_envs = 4};
  // One Lattice run at 60k steps on this reacher lands anywhere from -3 to -100 depending on the seed
  // (about 1 seed in 10 ends below its start, with either normal generator and either instruction
  // set), so the learning check is a majority of 5 seeds, not the luck of one.
  const auto path = std::filesystem::temp_directory_path() / "spindle_consumer_reacher.npz";
  int improved = 0;
  double best_after = -1e300, best_before = 0;
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    config.seed = seed;
    algo::Ppo<Reacher, noise::Lattice<float>> lattice(Reacher{}, config);
    const double before = lattice.evaluate(20);
    lattice.learn(60'000);
    const double after = lattice.evaluate(20);
    std::printf("consumer: seed %d, Lattice return %.2f -> %.2f\n", int(seed), before, after);
    improved += after > before + 5.0;
    if (after > best_after) {
      best_after = after;
      best_before = before;
      lattice.save(path);  // any environment; the environments' state only where they can save it
    }
  }
  config.seed = 0;
  algo::Ppo<Reacher> gaussian(Reacher{}, config);  // noise::DiagGaussian<float>
  const double gaussian_before = gaussian.evaluate(20);
  gaussian.learn(60'000);
  const double gaussian_after = gaussian.evaluate(20);
  std::printf("consumer: Gaussian return %.2f -> %.2f\n", gaussian_before, gaussian_after);

  const double controlled = run_controller(path);  // the best Lattice run, deployed
  std::printf("consumer: the deployed policy's return %.2f\n", controlled);
  std::filesystem::remove(path);
  return improved >= 3 && gaussian_after > gaussian_before + 5.0 && controlled > best_before + 5.0 ? 0 : 1;
}
