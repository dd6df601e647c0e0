// Must NOT compile: CTest (compile_fail.*) checks that the error names what is missing.
#include <spindle/core/environment.hpp>
struct NoActionSpace {
  static constexpr int obs_dim = 2, act_dim = 1;
  Eigen::Vector2f reset(spindle::Rng&);
  spindle::Step<2> step(const Eigen::Matrix<float, 1, 1>&);
};
static_assert(spindle::check_environment<NoActionSpace>());
