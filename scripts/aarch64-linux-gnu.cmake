# Cross-compiling for arm64 (aarch64) with Debian's cross compiler and the
# :arm64 development packages installed through multiarch
# (scripts/cross-arm64.sh sets both up).  The programs built run under
# qemu-aarch64 on an x86-64 machine.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Multiarch keeps arm64 libraries in /usr/lib/aarch64-linux-gnu and the
# headers shared in /usr/include: search there, and run the build's own
# programs (none) on the host.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 CACHE STRING "runs arm64 programs")
