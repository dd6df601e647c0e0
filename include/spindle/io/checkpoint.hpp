#pragma once
// Checkpoint: named arrays saved as one .npz file (numpy.load reads it).
//  - written atomically: a temporary file beside the target, flushed, then
//    renamed over it, so a crash never leaves a half-written checkpoint;
//  - versioned: every file carries "spindle.format_version"; a newer or a
//    missing version is refused with a clear error;
//  - loading names the file and the reason (missing, truncated, corrupt, an
//    array missing or of the wrong shape or type).
// Matrices are stored as 2-D C-order arrays (rows, cols), so numpy sees them as they are.
#include <Eigen/Core>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <type_traits>
#include <unistd.h>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
// xnpy pulls in <regex>, on which GCC 12 at -O1 (the sanitizer build) warns falsely.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#include <xtensor/xnpy.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <xtensor/xtensor.hpp>

#include "../core/errors.hpp"
#include "npz.hpp"

namespace spindle::io {

inline constexpr std::int64_t checkpoint_format_version = 1;

class Checkpoint {
 public:
  static constexpr const char* version_key = "spindle.format_version";

  Checkpoint() { put_scalar(version_key, checkpoint_format_version); }

  /// Stores a matrix (any Eigen expression) under `name`, as float32/float64/int64 by its scalar type.
  template <class Derived>
  void put(const std::string& name, const Eigen::MatrixBase<Derived>& m) {
    using S = typename Derived::Scalar;
    xt::xtensor<S, 2> a = xt::xtensor<S, 2>::from_shape({static_cast<std::size_t>(m.rows()), static_cast<std::size_t>(m.cols())});
    for (Eigen::Index i = 0; i < m.rows(); ++i)
      for (Eigen::Index j = 0; j < m.cols(); ++j) a(static_cast<std::size_t>(i), static_cast<std::size_t>(j)) = m(i, j);
    arrays_[name + ".npy"] = xt::dump_npy(a);
  }
  template <class T>
  void put_scalar(const std::string& name, T value) {
    put(name, Eigen::Matrix<T, 1, 1>(value));
  }

  /// Text (a type name, a configuration word) as an int64 array of its bytes.
  void put_string(const std::string& name, const std::string& text) {
    Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1> bytes(static_cast<Eigen::Index>(text.size()));
    for (std::size_t i = 0; i < text.size(); ++i) bytes(static_cast<Eigen::Index>(i)) = static_cast<unsigned char>(text[i]);
    put(name, bytes);
  }
  std::string get_string(const std::string& name) const {
    const auto bytes = get_vector<std::int64_t>(name);
    std::string text(static_cast<std::size_t>(bytes.size()), '\0');
    for (Eigen::Index i = 0; i < bytes.size(); ++i) {
      if (bytes(i) < 0 || bytes(i) > 255) throw file_error(where() + ": array '" + name + "' is not text");
      text[static_cast<std::size_t>(i)] = static_cast<char>(bytes(i));
    }
    return text;
  }

  bool contains(const std::string& name) const { return arrays_.count(name + ".npy") > 0; }
  /// The file this checkpoint was loaded from (empty for one built in memory).
  const std::string& path() const noexcept { return path_; }

  /// The array `name` as a rows × cols matrix of scalar S; throws naming the array and both shapes.
  template <class S>
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> get(const std::string& name, Eigen::Index rows,
                                                       Eigen::Index cols) const {
    const auto a = load<S>(name);
    const auto& shape = a.shape();
    const Eigen::Index r = shape.size() > 0 ? static_cast<Eigen::Index>(shape[0]) : 1;
    const Eigen::Index c = shape.size() > 1 ? static_cast<Eigen::Index>(shape[1]) : 1;
    if (shape.size() > 2 || r != rows || c != cols)
      throw shape_error(where() + ": array '" + name + "' has shape " + spindle::detail::shape_string(r, c) +
                        ", expected " + spindle::detail::shape_string(rows, cols));
    Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> m(rows, cols);
    for (Eigen::Index i = 0; i < rows; ++i)
      for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = a.data()[i * cols + j];
    return m;
  }
  /// A one-dimensional array (or an n × 1 one) of any length.
  template <class S>
  Eigen::Matrix<S, Eigen::Dynamic, 1> get_vector(const std::string& name) const {
    const auto a = load<S>(name);
    const auto& shape = a.shape();
    if (shape.size() > 2 || (shape.size() == 2 && shape[1] != 1))
      throw shape_error(where() + ": array '" + name + "' is not a vector");
    Eigen::Matrix<S, Eigen::Dynamic, 1> v(static_cast<Eigen::Index>(a.size()));
    for (Eigen::Index i = 0; i < v.size(); ++i) v(i) = a.data()[i];
    return v;
  }
  template <class S>
  S get_scalar(const std::string& name) const {
    return get<S>(name, 1, 1)(0, 0);
  }

  /// Writes the checkpoint to `path` atomically (temporary file + rename).
  void save(const std::filesystem::path& path) const {
    const std::string bytes = zip_store(arrays_);
    const std::filesystem::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
    {
      std::FILE* f = std::fopen(tmp.c_str(), "wb");
      if (!f) throw file_error("checkpoint '" + path.string() + "': cannot create '" + tmp.string() + "': " + std::strerror(errno));
      const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 &&
                      ::fsync(::fileno(f)) == 0;
      const int err = errno;
      std::fclose(f);
      if (!ok) {
        std::filesystem::remove(tmp);
        throw file_error("checkpoint '" + path.string() + "': write failed: " + std::strerror(err));
      }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      std::filesystem::remove(tmp);
      throw file_error("checkpoint '" + path.string() + "': cannot rename the temporary file: " + ec.message());
    }
  }

  /// Reads a checkpoint; every failure names the file and the reason.
  static Checkpoint load(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw file_error("checkpoint '" + path.string() + "': cannot open: " + std::strerror(errno));
    std::ostringstream buffer;
    buffer << in.rdbuf();
    Checkpoint c;
    c.path_ = path.string();
    c.arrays_ = zip_read(buffer.str(), "checkpoint '" + path.string() + "'");
    if (!c.contains(version_key))
      throw file_error(c.where() + ": not a spindle checkpoint (no '" + version_key + "')");
    const auto version = c.get_scalar<std::int64_t>(version_key);
    if (version > checkpoint_format_version || version < 1)
      throw file_error(c.where() + ": format version " + std::to_string(version) + " is not supported (this spindle reads 1.." +
                       std::to_string(checkpoint_format_version) + ")");
    return c;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : arrays_) out.push_back(k.substr(0, k.size() - 4));
    return out;
  }

 private:
  template <class S>
  static std::string dtype_name() {
    if constexpr (std::is_same_v<S, float>) return "float32";
    else if constexpr (std::is_same_v<S, double>) return "float64";
    else if constexpr (std::is_same_v<S, std::int64_t>) return "int64";
    else return "the requested type";
  }
  std::string where() const { return path_.empty() ? std::string("checkpoint") : "checkpoint '" + path_ + "'"; }

  template <class S>
  xt::xarray<S> load(const std::string& name) const {
    const auto it = arrays_.find(name + ".npy");
    if (it == arrays_.end()) throw file_error(where() + ": array '" + name + "' is missing");
    std::istringstream stream(it->second);
    try {
      xt::xarray<S> a = xt::load_npy<S>(stream);
      if (!stream) throw std::runtime_error("truncated data");
      return a;
    } catch (const std::exception& e) {
      throw file_error(where() + ": array '" + name + "' cannot be read as " + dtype_name<S>() + ": " + e.what());
    }
  }

  std::map<std::string, std::string> arrays_;
  std::string path_;
};

}  // namespace spindle::io
