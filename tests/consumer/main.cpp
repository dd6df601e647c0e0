// Out-of-tree consumer built by the install.find_package_consumer CTest test; its exit code is the check.
#include <spindle/spindle.hpp>

#include <cstdio>

int main() {
  spindle::VectorEnv<spindle::envs::Pendulum> envs(4);
  envs.reset(7);
  Eigen::MatrixXf actions = Eigen::MatrixXf::Zero(4, 1);
  for (int t = 0; t < 200; ++t) envs.step(actions);
  const auto finished = envs.finished_episodes();
  std::printf("consumer: %zu episodes finished after 200 steps\n", finished.size());
  return finished.size() == 4 ? 0 : 1;
}
