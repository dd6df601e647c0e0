// Must NOT compile: obs_dim says 2, step returns a Step<3>; the error names both sizes.
#include <spindle/core/environment.hpp>
struct WrongObsDim {
  static constexpr int obs_dim = 2, act_dim = 1;
  spindle::Box<float> action_space{-1.0f, 1.0f, 1};
  Eigen::Vector2f reset(spindle::Rng&);
  spindle::Step<3> step(const Eigen::Matrix<float, 1, 1>&);
};
static_assert(!spindle::Environment<WrongObsDim>);
static_assert(spindle::check_environment<WrongObsDim>());
