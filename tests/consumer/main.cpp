// Out-of-tree consumer built by the install.find_package_consumer CTest test, written from the
// README alone: one include, a user's environment, PPO with Lattice and with the Gaussian, a
// saved policy run as a controller. Its exit code is the check.
#include <spindle/spindle.hpp>

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
  const algo::PpoConfig config{.learning_rate = 1e-3, .n_steps = 256, .batch_size = 64, .n_envs = 4};
  algo::Ppo<Reacher, noise::Lattice<float>> lattice(Reacher{}, config);
  algo::Ppo<Reacher> gaussian(Reacher{}, config);  // noise::DiagGaussian<float>
  const double before = lattice.evaluate(20);
  lattice.learn(60'000);
  gaussian.learn(60'000);
  const double after = lattice.evaluate(20), gaussian_after = gaussian.evaluate(20);
  std::printf("consumer: Lattice return %.2f -> %.2f, Gaussian %.2f\n", before, after, gaussian_after);

  const auto path = std::filesystem::temp_directory_path() / "spindle_consumer_reacher.npz";
  lattice.save(path);  // any environment; the environments' state only where they can save it
  const double controlled = run_controller(path);
  std::printf("consumer: the deployed policy's return %.2f\n", controlled);
  std::filesystem::remove(path);
  return after > before + 5.0 && gaussian_after > before + 5.0 && controlled > before + 5.0 ? 0 : 1;
}
