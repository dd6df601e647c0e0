// An Oracle policy needs an environment with privileged information: a compile-time message.
#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/policy.hpp>

int main() {
  spindle::algo::Ppo<spindle::envs::Pendulum, spindle::noise::DiagGaussian<float>, spindle::policy::Oracle> ppo(
      spindle::envs::Pendulum{});
  (void)ppo;
}
