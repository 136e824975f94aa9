@echo off
rem recorder for Windows: the embeddable CPython beside this file runs the recorder package.
rem -X utf8: what recorder prints is UTF-8 whether it goes to a console, a pipe or a file.
"%~dp0python\python.exe" -X utf8 -m recorder %*
exit /b %ERRORLEVEL%
