#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <spindle/io.hpp>
#include <spindle/nn.hpp>
#include <string>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_checkpoint {

using namespace spindle;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path;
  TempDir() : path(fs::temp_directory_path() / ("spindle_ckpt_" + std::to_string(::getpid()))) {
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};
std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_all(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
}  // namespace

TEST_CASE("Checkpoint: parameters and Adam state round-trip bit-identically") {
  TempDir dir;
  Rng rng(0);
  nn::Mlp<float> mlp({.sizes = {5, 16, 3}}, rng);
  nn::Adam<float> adam(mlp.parameters());
  mlp.parameters().grads().setRandom();
  adam.step(mlp.parameters());
  io::Checkpoint c;
  nn::save(c, "actor", mlp.parameters());
  nn::save(c, "actor.adam", adam);
  c.put("counts", Eigen::Matrix<std::int64_t, 2, 2>(Eigen::Matrix<std::int64_t, 2, 2>::Constant(7)));
  c.save(dir.path / "run.npz");

  nn::Mlp<float> other({.sizes = {5, 16, 3}}, rng);
  nn::Adam<float> other_adam(other.parameters());
  CHECK(other.parameters().values() != mlp.parameters().values());
  const auto loaded = io::Checkpoint::load(dir.path / "run.npz");
  nn::load(loaded, "actor", other.parameters());
  nn::load(loaded, "actor.adam", other_adam);
  CHECK(other.parameters().values() == mlp.parameters().values());
  CHECK(other_adam.first_moment() == adam.first_moment());
  CHECK(other_adam.second_moment() == adam.second_moment());
  CHECK(other_adam.steps() == 1);
  CHECK(loaded.get<std::int64_t>("counts", 2, 2)(1, 1) == 7);
  // Nothing but the checkpoint is left in the directory (the temporary file was renamed).
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}) == 1);
}

TEST_CASE("Checkpoint: saving over an existing file replaces it whole") {
  TempDir dir;
  io::Checkpoint a, b;
  a.put("x", Eigen::MatrixXd::Constant(2, 2, 1.0));
  b.put("x", Eigen::MatrixXd::Constant(3, 1, 2.0));
  a.save(dir.path / "c.npz");
  b.save(dir.path / "c.npz");
  CHECK(io::Checkpoint::load(dir.path / "c.npz").get<double>("x", 3, 1)(2, 0) == 2.0);
  CHECK_THROWS_AS(a.save(dir.path / "no_such_dir" / "c.npz"), io::file_error);
}

TEST_CASE("Checkpoint: missing, truncated, garbage and corrupt files give errors naming file and reason") {
  TempDir dir;
  const fs::path good = dir.path / "good.npz";
  io::Checkpoint c;
  c.put("layer.weight", Eigen::MatrixXf::Constant(4, 3, 0.5f));
  c.save(good);
  const std::string bytes = read_all(good);

  const fs::path missing = dir.path / "missing.npz";
  CHECK_THROWS_WITH_AS(io::Checkpoint::load(missing),
                       doctest::Contains("missing.npz': cannot open: No such file or directory"), io::file_error);

  for (std::size_t keep : {std::size_t(0), std::size_t(10), bytes.size() / 2, bytes.size() - 1}) {
    write_all(dir.path / "cut.npz", bytes.substr(0, keep));
    CAPTURE(keep);
    CHECK_THROWS_AS(io::Checkpoint::load(dir.path / "cut.npz"), io::file_error);
  }
  write_all(dir.path / "garbage.npz", std::string(500, 'x'));
  CHECK_THROWS_WITH_AS(io::Checkpoint::load(dir.path / "garbage.npz"), doctest::Contains("not an npz archive"),
                       io::file_error);
  std::string flipped = bytes;
  flipped[bytes.find("\x93NUMPY") + 100] ^= 0x5A;  // a byte inside the array data
  write_all(dir.path / "flipped.npz", flipped);
  CHECK_THROWS_WITH_AS(io::Checkpoint::load(dir.path / "flipped.npz"), doctest::Contains("CRC mismatch"),
                       io::file_error);
}

TEST_CASE("Checkpoint: a missing or wrongly shaped array is named, and nothing is half-loaded") {
  TempDir dir;
  Rng rng(1);
  nn::Mlp<float> small({.sizes = {5, 16, 3}}, rng), wide({.sizes = {5, 17, 3}}, rng);
  io::Checkpoint c;
  nn::save(c, "actor", small.parameters());
  c.save(dir.path / "a.npz");
  const auto loaded = io::Checkpoint::load(dir.path / "a.npz");
  const Eigen::VectorXf before = wide.parameters().values();
  CHECK_THROWS_WITH_AS(nn::load(loaded, "actor", wide.parameters()),
                       doctest::Contains("array 'actor.layer0.weight' has shape (16, 5), expected (17, 5)"),
                       shape_error);
  CHECK(wide.parameters().values() == before);
  CHECK_THROWS_WITH_AS(nn::load(loaded, "critic", small.parameters()),
                       doctest::Contains("array 'critic.layer0.weight' is missing"), io::file_error);
  CHECK_THROWS_WITH_AS(loaded.get<double>("actor.layer0.weight", 16, 5), doctest::Contains("cannot be read as float64"),
                       io::file_error);
}

TEST_CASE("Checkpoint: files without a version, or from a newer format, are refused") {
  TempDir dir;
  std::map<std::string, std::string> entries;
  entries["x.npy"] = xt::dump_npy(xt::xtensor<double, 1>{1.0, 2.0});
  write_all(dir.path / "plain.npz", io::zip_store(entries));
  CHECK_THROWS_WITH_AS(io::Checkpoint::load(dir.path / "plain.npz"), doctest::Contains("not a spindle checkpoint"),
                       io::file_error);
  io::Checkpoint future;
  future.put_scalar<std::int64_t>(io::Checkpoint::version_key, 99);
  future.save(dir.path / "future.npz");
  CHECK_THROWS_WITH_AS(io::Checkpoint::load(dir.path / "future.npz"), doctest::Contains("format version 99"),
                       io::file_error);
}

}  // namespace test_checkpoint
