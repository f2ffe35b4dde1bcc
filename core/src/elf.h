// A minimal reader of ELF64 shared objects: one named section's bytes and whether a symbol is
// exported in the dynamic symbol table. Used to read plugin descriptors without dlopen().
// (boost::dll::library_info exposes neither section contents nor .dynsym, and relies on the
// .symtab that `strip` removes.)
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace micro::plugin::detail {

struct ElfScan {
  std::optional<std::string> section;  ///< contents of the section, if present
  bool exports_symbol = false;         ///< symbol defined and global in .dynsym
};

/// Reads file as an ELF64 shared object of this machine. Throws PluginError{not_a_plugin}
/// when it is not one (with the reason), PluginError{bad_descriptor} when the section is
/// larger than max_section bytes.
ElfScan scan_elf(const std::filesystem::path& file, std::string_view section,
                 std::string_view symbol, std::size_t max_section = 1 << 20);

}  // namespace micro::plugin::detail
