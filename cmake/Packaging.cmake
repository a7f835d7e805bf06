# CPack: one Debian 12 package, vgpu-ioreqd.   cpack -G DEB  (in the build dir)
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "vgpu-ioreqd")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_CONTACT "vgpu-ioreqd maintainers <root@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Standalone Xen ioreq server for a vGPU stub PCI device\n\
 vgpu-ioreqd runs in Dom0 as a secondary ioreq server and makes a PCI device\n\
 (1af4:1111) appear in an HVM guest without QEMU emulating it. Includes the\n\
 Xen hotplug script, an xl wrapper and a systemd template unit.")
# The tools the launcher scripts call (xl, xenstore-read/-write); a shared
# build of the daemon also needs the libraries it links (their sonames pin
# Xen 4.17); a static one (VGPU_STATIC, the default) needs none.
set(_vgpu_deps "xenstore-utils, xen-utils-common, bash, util-linux")
if(NOT VGPU_STATIC)
  string(PREPEND _vgpu_deps
    "libxenmisc4.17, libxendevicemodel1 (>= 4.17), libxenforeignmemory1 (>= 4.17), \
libxenevtchn1 (>= 4.17), libxenstore4 (>= 4.17), libxentoolcore1 (>= 4.17), \
libspdlog1.10, libfmt9, libc6, libstdc++6 (>= 12), ")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_vgpu_deps}")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "xen-utils-4.17")
# dpkg must not overwrite an administrator's edits of these on upgrade.
# CPack copies CONTROL_EXTRA files by name, so this one must be "conffiles".
set(VGPU_CONFFILES "${CMAKE_BINARY_DIR}/cpack-debian/conffiles")
file(WRITE "${VGPU_CONFFILES}" "/etc/default/vgpu-ioreqd\n/etc/xen/scripts/vgpu-hotplug\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${VGPU_CONFFILES}")
include(CPack)
