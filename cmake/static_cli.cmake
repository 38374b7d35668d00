# The `quark` CLI links Abseil and protobuf statically; the daemons and the
# tests keep Debian's shared libraries.
#
# Why: a CLI call is a process start, and with 48 shared objects the dynamic
# loader's relocations were most of `quark submit count 1e5 --wait`
# (12 ms, of which 8 before main). The daemons start once and parse network
# input with protobuf, so they keep the shared libraries that Debian's
# security updates reach (docs/architecture.md, "The CLI links Abseil and
# protobuf statically").
#
# How: for every imported absl:: target and for protobuf::libprotobuf this
# makes a mirror, quark_static::absl_NAME and quark_static::protobuf, whose
# location is the .a beside the .so. quark_link() links a library to either,
# chosen by the QUARK_STATIC_DEPS property of the executable being linked, so
# that one quark_common serves the CLI (static) and the daemons (shared).
option(QUARK_STATIC_CLI "Link Abseil and protobuf into the quark CLI statically" ON)

function(_quark_static_name item out)
  if(item MATCHES "^absl::(.+)$")
    set(${out} "quark_static::absl_${CMAKE_MATCH_1}" PARENT_SCOPE)
  elseif(item STREQUAL "protobuf::libprotobuf")
    set(${out} "quark_static::protobuf" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

# The static archive beside an imported shared library, or "" when there is
# none (then the CLI stays dynamic).
function(_quark_archive_of target out)
  set(${out} "" PARENT_SCOPE)
  get_target_property(configs ${target} IMPORTED_CONFIGURATIONS)
  set(location "")
  if(configs)
    list(GET configs 0 config)
    get_target_property(location ${target} IMPORTED_LOCATION_${config})
  endif()
  if(NOT location)
    get_target_property(location ${target} IMPORTED_LOCATION)
  endif()
  if(NOT location)
    return()
  endif()
  string(REGEX REPLACE "\\.so(\\.[0-9.]+)?$" ".a" archive "${location}")
  if(archive STREQUAL location OR NOT EXISTS "${archive}")
    return()
  endif()
  set(${out} "${archive}" PARENT_SCOPE)
endfunction()

function(_quark_copy_usage from to)
  foreach(property INTERFACE_INCLUDE_DIRECTORIES INTERFACE_COMPILE_DEFINITIONS
                   INTERFACE_COMPILE_OPTIONS INTERFACE_COMPILE_FEATURES)
    get_target_property(value ${from} ${property})
    if(value)
      set_target_properties(${to} PROPERTIES ${property} "${value}")
    endif()
  endforeach()
  get_target_property(links ${from} INTERFACE_LINK_LIBRARIES)
  if(links)
    string(REGEX REPLACE "absl::([A-Za-z0-9_]+)" "quark_static::absl_\\1"
                         links "${links}")
    set_target_properties(${to} PROPERTIES INTERFACE_LINK_LIBRARIES "${links}")
  endif()
endfunction()

function(_quark_make_static_mirrors)
  get_property(imported DIRECTORY ${PROJECT_SOURCE_DIR} PROPERTY IMPORTED_TARGETS)
  set(made "")
  foreach(target IN LISTS imported)
    if(NOT target MATCHES "^absl::")
      continue()
    endif()
    _quark_static_name(${target} mirror)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "INTERFACE_LIBRARY")
      add_library(${mirror} INTERFACE IMPORTED)
    else()
      _quark_archive_of(${target} archive)
      if(NOT archive)
        message(STATUS "quark: no static archive for ${target}; the CLI links it dynamically")
        set(QUARK_STATIC_CLI OFF PARENT_SCOPE)
        return()
      endif()
      add_library(${mirror} STATIC IMPORTED)
      set_target_properties(${mirror} PROPERTIES IMPORTED_LOCATION "${archive}")
    endif()
    _quark_copy_usage(${target} ${mirror})
    list(APPEND made ${mirror})
  endforeach()
  _quark_archive_of(protobuf::libprotobuf archive)
  if(NOT archive)
    message(STATUS "quark: no static libprotobuf; the CLI links it dynamically")
    set(QUARK_STATIC_CLI OFF PARENT_SCOPE)
    return()
  endif()
  # libprotobuf.a compresses with zlib (gzip streams) and needs threads.
  find_package(ZLIB REQUIRED)
  add_library(quark_static::protobuf STATIC IMPORTED)
  set_target_properties(quark_static::protobuf PROPERTIES IMPORTED_LOCATION "${archive}")
  _quark_copy_usage(protobuf::libprotobuf quark_static::protobuf)
  set_target_properties(quark_static::protobuf PROPERTIES
    INTERFACE_LINK_LIBRARIES "Threads::Threads;ZLIB::ZLIB")
endfunction()

if(QUARK_STATIC_CLI)
  _quark_make_static_mirrors()
endif()

# target_link_libraries() for the libraries the CLI is made of: each absl::
# and protobuf:: item is linked statically into an executable whose
# QUARK_STATIC_DEPS property is ON, and shared into any other.
function(quark_link target scope)
  set(items "")
  foreach(item IN LISTS ARGN)
    _quark_static_name("${item}" mirror)
    if(QUARK_STATIC_CLI AND mirror AND TARGET "${mirror}")
      list(APPEND items
           "$<IF:$<BOOL:$<TARGET_PROPERTY:QUARK_STATIC_DEPS>>,${mirror},${item}>")
    else()
      list(APPEND items "${item}")
    endif()
  endforeach()
  target_link_libraries(${target} ${scope} ${items})
endfunction()
