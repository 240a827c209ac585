# Cross-build for linux/arm64 with Debian's gcc-aarch64-linux-gnu.
#
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#         -DMEMKV_ARM64_SYSROOT=$PWD/build-arm64-sysroot
#
# MEMKV_ARM64_SYSROOT is a private tree of unpacked arm64 packages (libck-dev,
# libev-dev, libssl-dev, libcmocka-dev and their runtime libraries, libc6),
# made by scripts/test-arm64.sh with `apt-get download` + `dpkg -x`. The
# arm64 packages are never installed system-wide: libck-dev:arm64 and
# libck-dev:amd64 both ship /usr/include/ck_md.h (CK_MD_RMO against
# CK_MD_TSO), so apt would remove the native one, and a cross-build against
# the amd64 ck_md.h would silently assume x86's memory ordering.
#
# ctest runs the test executables under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR)
# with the sysroot as the dynamic loader's root (-L).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(MEMKV_ARM64_SYSROOT "$ENV{MEMKV_ARM64_SYSROOT}" CACHE PATH "unpacked arm64 packages")
if(NOT MEMKV_ARM64_SYSROOT)
  set(MEMKV_ARM64_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../build-arm64-sysroot")
endif()
get_filename_component(MEMKV_ARM64_SYSROOT "${MEMKV_ARM64_SYSROOT}" ABSOLUTE)
if(NOT EXISTS "${MEMKV_ARM64_SYSROOT}/usr/include/ck_md.h")
  message(FATAL_ERROR "no arm64 sysroot at ${MEMKV_ARM64_SYSROOT} (scripts/test-arm64.sh makes it)")
endif()
# try_compile projects get a fresh cache: hand the path on to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES MEMKV_ARM64_SYSROOT)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)

# The cross compiler's own libc (libc6-dev-arm64-cross) is in
# /usr/aarch64-linux-gnu; the libraries mem-kv uses are in the sysroot.
set(CMAKE_FIND_ROOT_PATH "${MEMKV_ARM64_SYSROOT}" /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# The sysroot's headers on every compile line, whatever CMAKE_C_FLAGS says
# (openssl's opensslconf.h is in the multiarch folder); the linker finds the
# sysroot libraries' own dependencies (libcrypto for libssl).
set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES
  "${MEMKV_ARM64_SYSROOT}/usr/include" "${MEMKV_ARM64_SYSROOT}/usr/include/aarch64-linux-gnu")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${MEMKV_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu -Wl,-rpath-link,${MEMKV_ARM64_SYSROOT}/lib/aarch64-linux-gnu")

# pkg-config (OpenSSL): the arm64 .pc files only, paths under the sysroot.
set(ENV{PKG_CONFIG_LIBDIR} "${MEMKV_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${MEMKV_ARM64_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${MEMKV_ARM64_SYSROOT}")
set(ENV{PKG_CONFIG_PATH} "")

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -L "${MEMKV_ARM64_SYSROOT}")
