#include "elf.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "micro/loader.h"

namespace micro::plugin::detail {
namespace {

[[noreturn]] void not_a_plugin(const std::filesystem::path& f, const std::string& why) {
  throw PluginError(Stage::not_a_plugin, f, why);
}

#if defined(__x86_64__)
constexpr uint16_t kMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr uint16_t kMachine = EM_AARCH64;
#else
#error "unsupported machine"
#endif

class File {
 public:
  explicit File(const std::filesystem::path& p) : path_(p), in_(p, std::ios::binary) {
    if (!in_) not_a_plugin(p, "cannot open file for reading");
    in_.seekg(0, std::ios::end);
    size_ = static_cast<uint64_t>(in_.tellg());
  }
  uint64_t size() const { return size_; }
  void read(uint64_t off, void* dst, uint64_t n) {
    if (off > size_ || n > size_ - off) not_a_plugin(path_, "truncated ELF file");
    in_.seekg(static_cast<std::streamoff>(off));
    in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    if (!in_) not_a_plugin(path_, "read error");
  }
  std::string read_string(uint64_t off, uint64_t n) {
    std::string s(n, '\0');
    if (n) read(off, s.data(), n);
    return s;
  }

 private:
  std::filesystem::path path_;
  std::ifstream in_;
  uint64_t size_ = 0;
};

}  // namespace

ElfScan scan_elf(const std::filesystem::path& path, std::string_view section_name,
                 std::string_view symbol, std::size_t max_section) {
  File f(path);
  if (f.size() == 0) not_a_plugin(path, "empty file");
  if (f.size() < sizeof(Elf64_Ehdr)) not_a_plugin(path, "not an ELF file (too short)");
  Elf64_Ehdr eh;
  f.read(0, &eh, sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) not_a_plugin(path, "not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
    not_a_plugin(path, "not a 64-bit little-endian ELF file");
  if (eh.e_type != ET_DYN) not_a_plugin(path, "not a shared object (ELF type is not ET_DYN)");
  if (eh.e_machine != kMachine) not_a_plugin(path, "built for another machine architecture");
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum)
    not_a_plugin(path, "bad ELF section header table");

  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  f.read(eh.e_shoff, sh.data(), uint64_t(eh.e_shnum) * sizeof(Elf64_Shdr));
  const Elf64_Shdr& strtab = sh[eh.e_shstrndx];
  if (strtab.sh_size > (1u << 20)) not_a_plugin(path, "bad ELF section name table");
  const std::string names = f.read_string(strtab.sh_offset, strtab.sh_size);
  auto name_of = [&](const Elf64_Shdr& s) -> std::string_view {
    if (s.sh_name >= names.size()) return {};
    return std::string_view(names.c_str() + s.sh_name);
  };

  ElfScan out;
  for (const auto& s : sh) {
    if (name_of(s) == section_name && s.sh_type != SHT_NOBITS) {
      if (s.sh_size > max_section)
        throw PluginError(Stage::bad_descriptor, path, "descriptor section is too large");
      out.section = f.read_string(s.sh_offset, s.sh_size);
    }
    if (s.sh_type == SHT_DYNSYM && !out.exports_symbol) {
      if (s.sh_link >= sh.size() || s.sh_entsize != sizeof(Elf64_Sym)) continue;
      const Elf64_Shdr& str = sh[s.sh_link];
      if (str.sh_size > (64u << 20) || s.sh_size > (64u << 20)) not_a_plugin(path, "bad .dynsym");
      const std::string strs = f.read_string(str.sh_offset, str.sh_size);
      std::vector<Elf64_Sym> syms(s.sh_size / sizeof(Elf64_Sym));
      f.read(s.sh_offset, syms.data(), syms.size() * sizeof(Elf64_Sym));
      for (const auto& sym : syms) {
        if (sym.st_name >= strs.size() || sym.st_shndx == SHN_UNDEF) continue;
        const unsigned bind = ELF64_ST_BIND(sym.st_info);
        if (bind != STB_GLOBAL && bind != STB_WEAK) continue;
        if (ELF64_ST_VISIBILITY(sym.st_other) != STV_DEFAULT) continue;
        if (std::string_view(strs.c_str() + sym.st_name) == symbol) {
          out.exports_symbol = true;
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace micro::plugin::detail
