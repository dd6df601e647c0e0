// SAC learns Pendulum: squashed Gaussian in 10k steps, Lattice and gSDE in 20k, 3 seeds each.
// Labelled "learning" (minutes under sanitizers: the asan preset leaves them out).
#include <doctest/doctest.h>

#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/noise.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_sac_learning {

using namespace spindle;
using envs::Pendulum;

namespace {

// The RLtools JMLR configuration (small networks, batch 100): the same as spindle_bench_sac_pendulum.
algo::SacConfig pendulum_config(std::uint64_t seed) {
  algo::SacConfig c;
  c.learning_rate = 1e-3;
  c.buffer_size = 10'000;
  c.learning_starts = 100;
  c.batch_size = 100;
  c.ent_coef_init = 0.5;
  c.actor_hidden = {64, 64};
  c.critic_hidden = {64, 64};
  c.seed = seed;
  return c;
}

// Trains for `steps` with each of 3 seeds; each must reach a mean deterministic return >= −200.
template <class Head>
void check_learns(long steps, const typename Head::Config& head_config, long sde_sample_freq = -1) {
  for (std::uint64_t seed : {0u, 1u, 2u}) {
    CAPTURE(seed);
    algo::SacConfig c = pendulum_config(seed);
    c.sde_sample_freq = sde_sample_freq;
    algo::Sac<Pendulum, Head> sac(Pendulum{}, c, head_config);
    sac.learn(steps);
    const double ret = sac.evaluate(10);
    MESSAGE("seed " << seed << ": mean return " << ret);
    CHECK(ret >= -200);
  }
}

}  // namespace

TEST_CASE("SAC learns Pendulum in 10k steps: mean deterministic return >= -200 for 3 seeds") {
  check_learns<noise::SquashedGaussian<float>>(10'000, {});
}

TEST_CASE("SAC with Lattice noise learns Pendulum in 20k steps for 3 seeds") {
  noise::Lattice<float>::Config h;
  h.squash_output = true;
  h.learn_features = true;
  h.clip_mean = 2.0;
  h.use_expln = true;
  h.log_std_init = -3.0 + 0.5 * std::log(64.0);  // the SAC actor's −3, before Lattice's −½ ln L shift
  h.std_reg = 0.05;  // a ReLU latent can be all zero: Σ would be singular without it
  check_learns<noise::Lattice<float>>(20'000, h, 8);
}

TEST_CASE("SAC with gSDE learns Pendulum in 20k steps for 3 seeds") {
  noise::Gsde<float>::Config h;
  h.squash_output = true;
  h.learn_features = true;
  h.clip_mean = 2.0;
  h.log_std_init = -3.0;  // SB3's SAC actor defaults for gSDE
  check_learns<noise::Gsde<float>>(20'000, h, 8);
}

}  // namespace test_sac_learning
