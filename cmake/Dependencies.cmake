# Third-party dependencies, as two interface targets every library links:
#   vgpu_spdlog  spdlog + fmt
#   vgpu_xenlibs the Xen 4.17 tool libraries
#
# With VGPU_STATIC (the default) vgpu-ioreqd links its C++ side statically:
# spdlog and fmt header-only (Debian ships no static archives of them),
# libstdc++ and libgcc statically. One daemon runs per guest, so its resident
# memory matters, and a static library costs only the pages we use
# (docs/performance.md has the numbers).
#
# glibc and the Xen libraries stay shared. Linked against Debian's
# libxenstore.a (with static or shared glibc), the daemon's first XenStore
# transaction after registering a watch failed with EINVAL under real Xen
# 4.17 and the handle was closed; the shared libxenstore works. The Xen
# libraries are small C libraries, so little is lost.
option(VGPU_STATIC "Link the C++ runtime, spdlog and fmt statically (smaller RSS)" ON)

pkg_check_modules(SPDLOG REQUIRED spdlog)
# The worker's system-call allow-list (src/app/sandbox.cpp).
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)
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
else()
  target_compile_options(vgpu_spdlog INTERFACE ${SPDLOG_CFLAGS_OTHER})
  target_include_directories(vgpu_spdlog SYSTEM INTERFACE ${SPDLOG_INCLUDE_DIRS})
  target_link_libraries(vgpu_spdlog INTERFACE ${SPDLOG_LINK_LIBRARIES} ${FMT_LINK_LIBRARIES})
endif()
target_link_libraries(vgpu_xenlibs INTERFACE ${XEN_LINK_LIBRARIES})

# Links `target`'s C++ runtime statically when VGPU_STATIC is on. Sanitizer
# builds keep it shared, as their runtimes expect.
function(vgpu_link_statically target)
  if(VGPU_STATIC AND NOT VGPU_SANITIZE)
    target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc)
  endif()
endfunction()
