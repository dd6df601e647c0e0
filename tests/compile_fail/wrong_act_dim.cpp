// Must NOT compile: act_dim says 1, step takes a 2-vector; the error names both sizes.
#include <spindle/core/environment.hpp>
struct WrongActDim {
  static constexpr int obs_dim = 2, act_dim = 1;
  spindle::Box<float> action_space{-1.0f, 1.0f, 1};
  Eigen::Vector2f reset(spindle::Rng&);
  spindle::Step<2> step(const Eigen::Vector2f&);
};
static_assert(!spindle::Environment<WrongActDim>);
static_assert(spindle::check_environment<WrongActDim>());
