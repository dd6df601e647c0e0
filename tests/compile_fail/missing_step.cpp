// Must NOT compile: CTest (compile_fail.*) checks that the error names what is missing.
#include <spindle/core/environment.hpp>
struct NoStep {
  static constexpr int obs_dim = 2, act_dim = 1;
  spindle::Box<float> action_space{-1.0f, 1.0f, 1};
  Eigen::Vector2f reset(spindle::Rng&);
};
static_assert(spindle::check_environment<NoStep>());
