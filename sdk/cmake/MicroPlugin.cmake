# micro_add_plugin(<target> KIND <kind> NAME <name> SOURCES <src>...
#                  [LIBRARIES <lib>...] [OUTPUT_DIR <dir>] [INSTALL] [INSTALL_DIR <dir>])
#
# Builds a loadable micro-cpp plugin: a MODULE library named micro-<kind>-<name>.so, linked
# against micro::core, hidden symbol visibility (only the entry point and descriptor are
# exported), written to OUTPUT_DIR (default: MICRO_PLUGIN_OUTPUT_DIR, else
# <build>/lib/micro/plugins). INSTALL adds an install rule to INSTALL_DIR (default:
# <libdir>/micro/plugins under the install prefix, the layout the core searches).
# Used in-tree by micro-cpp itself and out of tree through find_package(micro CONFIG).
include_guard(GLOBAL)

function(micro_add_plugin target)
  # Defined here, not at file scope, so the function works whichever scope included the file.
  set(kinds transport codec registry selector broker client server)
  cmake_parse_arguments(P "INSTALL" "KIND;NAME;OUTPUT_DIR;INSTALL_DIR" "SOURCES;LIBRARIES" ${ARGN})
  if(P_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "micro_add_plugin(${target}): unexpected arguments: ${P_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT P_KIND IN_LIST kinds)
    message(FATAL_ERROR "micro_add_plugin(${target}): KIND must be one of ${kinds}, got '${P_KIND}'")
  endif()
  if(NOT P_NAME MATCHES "^[a-z0-9][a-z0-9_.]*$")
    message(FATAL_ERROR "micro_add_plugin(${target}): NAME '${P_NAME}' must match [a-z0-9][a-z0-9_.]*")
  endif()
  if(NOT P_SOURCES)
    message(FATAL_ERROR "micro_add_plugin(${target}): SOURCES is required")
  endif()
  if(NOT P_OUTPUT_DIR)
    if(DEFINED MICRO_PLUGIN_OUTPUT_DIR)
      set(P_OUTPUT_DIR ${MICRO_PLUGIN_OUTPUT_DIR})
    else()
      set(P_OUTPUT_DIR ${CMAKE_BINARY_DIR}/lib/micro/plugins)
    endif()
  endif()
  add_library(${target} MODULE ${P_SOURCES})
  target_link_libraries(${target} PRIVATE micro::core ${P_LIBRARIES})
  target_compile_features(${target} PRIVATE cxx_std_20)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "micro-${P_KIND}-${P_NAME}"
    SUFFIX ".so"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR}
    INSTALL_RPATH "$ORIGIN/../..")
  # Refuse unresolved symbols at link time rather than at dlopen.
  target_link_options(${target} PRIVATE "LINKER:--no-undefined")
  # GCC marks some template statics STB_GNU_UNIQUE, which makes dlclose() a no-op: a plugin
  # could then never be unloaded. Plugins do not share such statics with the host.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -fno-gnu-unique)
  endif()
  set_property(TARGET ${target} PROPERTY MICRO_PLUGIN_KIND ${P_KIND})
  set_property(TARGET ${target} PROPERTY MICRO_PLUGIN_NAME ${P_NAME})
  if(P_INSTALL OR P_INSTALL_DIR)
    if(NOT P_INSTALL_DIR)
      include(GNUInstallDirs)
      set(P_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/micro/plugins)
    endif()
    install(TARGETS ${target} LIBRARY DESTINATION ${P_INSTALL_DIR})
  endif()
endfunction()
