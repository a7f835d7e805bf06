# Third-party dependencies, as two interface targets every library links:
#   vgpu_spdlog  spdlog + fmt
#   vgpu_xenlibs the Xen 4.17 tool libraries
#
# With VGPU_STATIC (the default) vgpu-ioreqd is linked statically: spdlog and
# fmt are used header-only (Debian ships no static archives of them) and the
# Xen libraries come from their static archives. One daemon runs per guest,
# so its resident memory matters: a static binary only maps the pages it
# uses, where the shared build maps libstdc++, libsystemd and their
# dependencies (docs/performance.md has the numbers).
option(VGPU_STATIC "Link vgpu-ioreqd statically (smaller resident memory)" ON)

pkg_check_modules(SPDLOG REQUIRED spdlog)
pkg_check_modules(FMT REQUIRED fmt)
pkg_check_modules(XEN REQUIRED
  xendevicemodel xenforeignmemory xenevtchn xencontrol xenstore xentoolcore)

add_library(vgpu_spdlog INTERFACE)
add_library(vgpu_xenlibs INTERFACE)
target_include_directories(vgpu_xenlibs SYSTEM INTERFACE ${XEN_INCLUDE_DIRS})

if(VGPU_STATIC)
  target_compile_definitions(vgpu_spdlog INTERFACE
    SPDLOG_HEADER_ONLY SPDLOG_FMT_EXTERNAL FMT_HEADER_ONLY)
  target_include_directories(vgpu_spdlog SYSTEM INTERFACE ${SPDLOG_INCLUDE_DIRS})
  # Library names (-lxenctrl ...), in pkg-config's static order, so that a
  # -static link picks the .a archives and a normal link the .so files.
  target_link_libraries(vgpu_xenlibs INTERFACE ${XEN_STATIC_LIBRARIES})
else()
  target_compile_options(vgpu_spdlog INTERFACE ${SPDLOG_CFLAGS_OTHER})
  target_include_directories(vgpu_spdlog SYSTEM INTERFACE ${SPDLOG_INCLUDE_DIRS})
  target_link_libraries(vgpu_spdlog INTERFACE ${SPDLOG_LINK_LIBRARIES} ${FMT_LINK_LIBRARIES})
  target_link_libraries(vgpu_xenlibs INTERFACE ${XEN_LINK_LIBRARIES})
endif()

# Links `target` (an executable) statically when VGPU_STATIC is on. The
# sanitizer runtimes cannot be linked statically, so sanitizer builds don't.
function(vgpu_link_statically target)
  if(VGPU_STATIC AND NOT VGPU_SANITIZE)
    target_link_options(${target} PRIVATE -static)
  endif()
endfunction()
