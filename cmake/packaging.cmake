# Debian packages of Quark, made by CPack's DEB generator (scripts/package.sh
# runs it): one package per install component.
#
#   quark             /usr/bin/quark, the CLI (`quark keygen` too); the quark
#                     system user (/usr/lib/sysusers.d/quark.conf); the
#                     operations guide
#   quark-worker      /usr/bin/quark-worker, its unit, /etc/quark/worker.conf
#   quark-controller  /usr/bin/quark-controller, its unit,
#                     /etc/quark/controller.conf
#
# The daemons' packages depend on quark: its postinst creates the user their
# units run as, and the controller's runs `quark keygen` to make its key
# pair. A worker makes its own key on its first start (worker/identity.h),
# never the package: an SD-card image made from a system would carry it.
# The binaries' install() rules are at the end of worker/, controller/ and
# cli/CMakeLists.txt; maintainer scripts and conffiles lists in
# packaging/debian/PACKAGE/. Library dependencies come from dpkg-shlibdeps,
# so a cross build (cmake/aarch64-linux-gnu.cmake) gets the arm64 ones.
# Everything the packages depend on is in Debian bookworm.

# The quark package's own files.
install(FILES ${PROJECT_SOURCE_DIR}/systemd/quark.sysusers
        DESTINATION lib/sysusers.d RENAME quark.conf COMPONENT cli)
install(FILES ${PROJECT_SOURCE_DIR}/docs/operations.md
        DESTINATION share/doc/quark COMPONENT cli)

# Every package: the changelog (packaging/debian/changelog, gzipped as
# Debian wants it) and lintian's overrides, each with its reason.
set(_quark_debian ${PROJECT_SOURCE_DIR}/packaging/debian)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${_quark_debian}/changelog)
file(STRINGS ${_quark_debian}/changelog _quark_changelog_top LIMIT_COUNT 1)
if(NOT _quark_changelog_top MATCHES "^quark \\(${PROJECT_VERSION}\\) ")
  message(WARNING "packaging/debian/changelog does not start with version "
          "${PROJECT_VERSION}: add an entry for it")
endif()
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/packaging)
execute_process(COMMAND gzip -9 -n -c
                INPUT_FILE ${_quark_debian}/changelog
                OUTPUT_FILE ${CMAKE_BINARY_DIR}/packaging/changelog.gz
                COMMAND_ERROR_IS_FATAL ANY)
function(quark_package_docs component package)
  install(FILES ${CMAKE_BINARY_DIR}/packaging/changelog.gz
          DESTINATION share/doc/${package} COMPONENT ${component})
  install(FILES ${_quark_debian}/${package}/lintian-overrides
          DESTINATION share/lintian/overrides RENAME ${package}
          COMPONENT ${component})
endfunction()
quark_package_docs(cli quark)
quark_package_docs(worker quark-worker)
quark_package_docs(controller quark-controller)

# Debian's name for the architecture the binaries are built for: dpkg's own
# in a native build, the toolchain's processor in a cross build. A -D on the
# cmake command line wins.
if(NOT QUARK_DEB_ARCHITECTURE)
  if(CMAKE_CROSSCOMPILING)
    if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
      set(QUARK_DEB_ARCHITECTURE arm64)
    elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^armv?[67]")
      set(QUARK_DEB_ARCHITECTURE armhf)
    elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|amd64|AMD64)$")
      set(QUARK_DEB_ARCHITECTURE amd64)
    else()
      message(FATAL_ERROR "packaging: no Debian architecture known for "
              "'${CMAKE_SYSTEM_PROCESSOR}'; set -DQUARK_DEB_ARCHITECTURE=")
    endif()
  else()
    execute_process(COMMAND dpkg --print-architecture
                    OUTPUT_VARIABLE QUARK_DEB_ARCHITECTURE
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  endif()
endif()
set(QUARK_DEB_ARCHITECTURE "${QUARK_DEB_ARCHITECTURE}" CACHE STRING
    "Debian architecture of the packages (amd64, arm64, ...)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME quark)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Quark maintainers <maintainers@users.noreply.b-seed-02bf6610.example>"
    CACHE STRING "Maintainer field of the packages")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL cli worker controller)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${QUARK_DEB_ARCHITECTURE})
set(CPACK_DEBIAN_PACKAGE_SECTION math)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(_quark_same "(= ${CPACK_PACKAGE_VERSION})")

set(CPACK_DEBIAN_CLI_PACKAGE_NAME quark)
set(CPACK_DEBIAN_CLI_DESCRIPTION
    "command-line client of the Quark prime-search cluster
The quark command submits, watches and cancels prime-sieving jobs on a
Quark cluster of small machines (Raspberry Pis) and drains and undrains
its nodes; `quark token create` makes the tokens new nodes join with, and
`quark keygen` a CurveZMQ key pair. This package also creates the quark
system user that the Quark daemons run as.")
# systemd-sysusers creates the user, with or without systemd running.
set(CPACK_DEBIAN_CLI_PACKAGE_DEPENDS "systemd | systemd-standalone-sysusers")
set(CPACK_DEBIAN_CLI_PACKAGE_CONTROL_EXTRA ${_quark_debian}/quark/postinst)

set(CPACK_DEBIAN_WORKER_PACKAGE_NAME quark-worker)
set(CPACK_DEBIAN_WORKER_DESCRIPTION
    "worker daemon of the Quark prime-search cluster
quark-worker joins a Quark cluster and sieves the ranges its controller
assigns on all cores, with libprimesieve. A node joins with one command,
`sudo quark-worker join TOKEN` (the token from `quark token create` on the
controller): the worker makes its own CurveZMQ key in /var/lib/quark-worker
on its first start, finds the controller by its beacon on the LAN and
enrolls. It runs as the systemd service quark-worker, as the quark user.")
set(CPACK_DEBIAN_WORKER_PACKAGE_DEPENDS "quark ${_quark_same}")
set(CPACK_DEBIAN_WORKER_PACKAGE_CONTROL_EXTRA
    ${_quark_debian}/quark-worker/conffiles
    ${_quark_debian}/quark-worker/postinst
    ${_quark_debian}/quark-worker/prerm
    ${_quark_debian}/quark-worker/postrm)

set(CPACK_DEBIAN_CONTROLLER_PACKAGE_NAME quark-controller)
set(CPACK_DEBIAN_CONTROLLER_DESCRIPTION
    "controller daemon of the Quark prime-search cluster
quark-controller keeps the membership of a Quark cluster, splits jobs into
tasks for its workers, merges their results and answers the quark command.
Its state (SQLite) is in /var/lib/quark. It runs as the systemd service
quark-controller, as the quark user, with a CurveZMQ key pair made on first
install (/etc/quark/controller.key and controller.pub), and lets nodes join
with the tokens `quark token create` makes, announcing itself on the LAN.")
# procps: the unit's ExecReload= runs /bin/kill, which minimal systems lack.
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_DEPENDS "quark ${_quark_same}, procps")
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_CONTROL_EXTRA
    ${_quark_debian}/quark-controller/conffiles
    ${_quark_debian}/quark-controller/postinst
    ${_quark_debian}/quark-controller/prerm
    ${_quark_debian}/quark-controller/postrm)

include(CPack)
