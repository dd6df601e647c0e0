// Must NOT compile: CTest (compile_fail.*) checks that the error names what is missing.
#include <spindle/core/environment.hpp>
struct NoReset {
  static constexpr int obs_dim = 2, act_dim = 1;
  spindle::Box<float> action_space{-1.0f, 1.0f, 1};
  spindle::Step<2> step(const Eigen::Matrix<float, 1, 1>&);
};
static_assert(spindle::check_environment<NoReset>());
