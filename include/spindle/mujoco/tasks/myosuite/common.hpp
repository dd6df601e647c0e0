#pragma once
// What MyoSuite's muscle tasks share: the environment mechanics (frame skip 10, sigmoid
// controls), the per-step effort ‖act‖₂/na, and the per-episode tally of solved steps and effort.
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "../../env.hpp"

namespace spindle::mujoco::myosuite {

/// Builds MyoSuite's muscle environment: frame skip 10, sigmoid controls, `steps` per episode.
inline Env muscle_env(const std::filesystem::path& path, long steps, Observe observe, Task task = {}) {
  if (steps <= 0) throw std::invalid_argument("myosuite: max_episode_steps must be positive");
  Model model = Model::from_file(path);
  if (model->na != model->nu)
    throw std::invalid_argument("myosuite: '" + path.string() + "' is not a MyoSuite muscle model (" + std::to_string(model->nu) +
                                " actuators, " + std::to_string(model->na) + " activation states)");
  EnvConfig config{.frame_skip = 10,
                   .max_episode_steps = steps,
                   .observation = {obs::custom(1, [](const mjModel&, const mjData&, float* out) { out[0] = 0; })},
                   .action_map = ActionMap::muscle_sigmoid,
                   .observe = observe};
  return Env(std::move(model), std::move(config), std::move(task));
}

/// ‖act‖₂ / na: MyoSuite's effort of one step (−act_reg).
inline double activation_norm(const mjModel& m, const mjData& d) noexcept {
  double s = 0;
  for (int i = 0; i < m.na; ++i) s += d.act[i] * d.act[i];
  return m.na > 0 ? std::sqrt(s) / m.na : 0.0;
}

/// An episode's solved steps and summed effort (what MyoSuite's metrics report).
struct EpisodeTally {
  double effort_sum = 0;
  long solved_steps = 0;
  bool solved = false;  // after the latest step

  void record(double effort, bool solved_now) noexcept {
    effort_sum += effort;
    solved = solved_now;
    solved_steps += solved_now ? 1 : 0;
  }
  /// The mean effort over `steps` steps (0 before the first).
  double effort(long steps) const noexcept { return steps > 0 ? effort_sum / static_cast<double>(steps) : 0.0; }
  void save(StateWords& out) const {
    put_word(out, effort_sum);
    put_word(out, std::int64_t{solved_steps});
    put_word(out, std::int64_t{solved});
  }
  void load(StateReader& in) {
    effort_sum = in.real();
    solved_steps = in.integer();
    solved = in.integer() != 0;
  }
};

}  // namespace spindle::mujoco::myosuite
