#pragma once
// Reading and writing .npz archives (a ZIP of .npy files, stored uncompressed,
// as numpy.savez writes them). The .npy payloads are written and parsed by
// xtensor; this header does the ZIP container, with a CRC-32 check of every
// entry, so a truncated or garbled file is reported instead of misread.
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace spindle::io {

/// A checkpoint or archive file could not be read or written.
struct file_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {

inline std::uint32_t crc32(const char* data, std::size_t n) noexcept {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ static_cast<unsigned char>(data[i])) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

inline void put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>(v >> 8));
}
inline void put32(std::string& out, std::uint32_t v) {
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
}
inline std::uint32_t get(const std::string& s, std::size_t pos, int bytes) {
  std::uint32_t v = 0;
  for (int k = 0; k < bytes; ++k) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(s[pos + static_cast<std::size_t>(k)])) << (8 * k);
  return v;
}

}  // namespace detail

/// Builds the bytes of a stored ZIP archive from named entries (in name order).
inline std::string zip_store(const std::map<std::string, std::string>& entries) {
  std::string out, central;
  std::uint16_t count = 0;
  for (const auto& [name, data] : entries) {
    if (data.size() > 0xFFFFFFFFu || out.size() > 0xFFFFFFFFu) throw file_error("npz: archive larger than 4 GiB");
    const std::uint32_t crc = detail::crc32(data.data(), data.size());
    const auto offset = static_cast<std::uint32_t>(out.size());
    const auto size = static_cast<std::uint32_t>(data.size());
    const auto name_len = static_cast<std::uint16_t>(name.size());
    // The fields a local header and a central record share: version needed, flags,
    // method (0 = stored), time, date (1980-01-01), CRC, sizes, name length, extra length.
    auto common = [&](std::string& o) {
      detail::put16(o, 20);
      detail::put16(o, 0);
      detail::put16(o, 0);
      detail::put16(o, 0);
      detail::put16(o, 0x21);
      detail::put32(o, crc);
      detail::put32(o, size);
      detail::put32(o, size);
      detail::put16(o, name_len);
      detail::put16(o, 0);
    };
    // local file header
    detail::put32(out, 0x04034b50);
    common(out);
    out += name;
    out += data;
    // central directory record
    detail::put32(central, 0x02014b50);
    detail::put16(central, 20);  // version made by
    common(central);
    detail::put16(central, 0);  // comment length
    detail::put16(central, 0);  // disk number
    detail::put16(central, 0);  // internal attributes
    detail::put32(central, 0);  // external attributes
    detail::put32(central, offset);
    central += name;
    ++count;
  }
  const auto cd_offset = static_cast<std::uint32_t>(out.size());
  out += central;
  detail::put32(out, 0x06054b50);
  detail::put16(out, 0);
  detail::put16(out, 0);
  detail::put16(out, count);
  detail::put16(out, count);
  detail::put32(out, static_cast<std::uint32_t>(central.size()));
  detail::put32(out, cd_offset);
  detail::put16(out, 0);
  return out;
}

/// Splits a stored ZIP archive into named entries; `what` names the file in errors.
inline std::map<std::string, std::string> zip_read(const std::string& bytes, const std::string& what) {
  auto fail = [&](const std::string& why) { return file_error(what + ": " + why); };
  if (bytes.size() < 22) throw fail("not an npz archive (file too short, truncated?)");
  std::size_t eocd = std::string::npos;
  const std::size_t lowest = bytes.size() > 22 + 0xFFFF ? bytes.size() - 22 - 0xFFFF : 0;
  for (std::size_t p = bytes.size() - 22 + 1; p-- > lowest;)
    if (detail::get(bytes, p, 4) == 0x06054b50) {
      eocd = p;
      break;
    }
  if (eocd == std::string::npos) throw fail("not an npz archive (no ZIP end record; truncated or not a ZIP file)");
  const std::uint32_t count = detail::get(bytes, eocd + 10, 2);
  const std::uint32_t cd_size = detail::get(bytes, eocd + 12, 4), cd_offset = detail::get(bytes, eocd + 16, 4);
  if (std::size_t(cd_offset) + cd_size > eocd) throw fail("corrupt ZIP directory");
  std::map<std::string, std::string> entries;
  std::size_t p = cd_offset;
  for (std::uint32_t k = 0; k < count; ++k) {
    if (p + 46 > eocd || detail::get(bytes, p, 4) != 0x02014b50) throw fail("corrupt ZIP directory record");
    const std::uint32_t method = detail::get(bytes, p + 10, 2), crc = detail::get(bytes, p + 16, 4);
    const std::uint32_t csize = detail::get(bytes, p + 20, 4), usize = detail::get(bytes, p + 24, 4);
    const std::uint32_t name_len = detail::get(bytes, p + 28, 2), extra_len = detail::get(bytes, p + 30, 2),
                        comment_len = detail::get(bytes, p + 32, 2), local = detail::get(bytes, p + 42, 4);
    if (p + 46 + name_len > eocd) throw fail("corrupt ZIP directory record");
    const std::string name = bytes.substr(p + 46, name_len);
    if (method != 0)
      throw fail("entry '" + name + "' is compressed; save with numpy.savez (not savez_compressed)");
    if (csize != usize) throw fail("corrupt size of entry '" + name + "'");
    if (std::size_t(local) + 30 > bytes.size() || detail::get(bytes, local, 4) != 0x04034b50)
      throw fail("corrupt local header of entry '" + name + "'");
    const std::size_t data = local + 30 + detail::get(bytes, local + 26, 2) + detail::get(bytes, local + 28, 2);
    if (data + usize > bytes.size()) throw fail("entry '" + name + "' is truncated");
    std::string payload = bytes.substr(data, usize);
    if (detail::crc32(payload.data(), payload.size()) != crc) throw fail("CRC mismatch in entry '" + name + "' (corrupt file)");
    entries.emplace(name, std::move(payload));
    p += 46 + name_len + extra_len + comment_len;
  }
  return entries;
}

}  // namespace spindle::io
