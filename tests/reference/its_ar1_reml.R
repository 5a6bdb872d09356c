# Peer reference for eh.its(errors="gls"): regression with AR(1) errors by REML in R's nlme.
# Data: tests/reference/its_ar1_simulated.csv (96 monthly points simulated once with numpy seed
# 20261123: trend, level change -5 and slope change -0.2 from time 49, one seasonal pair, AR(1)
# errors with rho 0.4, rounded to 4 decimals and frozen in the file).
# Run:  Rscript tests/reference/its_ar1_reml.R   (from the repository root)
library(nlme)
d <- read.csv("tests/reference/its_ar1_simulated.csv")
d$level <- as.numeric(d$time >= 49)
d$slope <- ifelse(d$time >= 49, d$time - 48, 0)
d$sin1 <- sin(2 * pi * d$time / 12)
d$cos1 <- cos(2 * pi * d$time / 12)
m <- gls(rate ~ time + level + slope + sin1 + cos1, data = d,
         correlation = corAR1(form = ~ time), method = "REML")
tt <- summary(m)$tTable
for (term in c("(Intercept)", "time", "level", "slope", "sin1", "cos1"))
  cat(sprintf("%s: coef %.10f se %.10f\n", term, tt[term, "Value"], tt[term, "Std.Error"]))
cat(sprintf("phi %.10f sigma %.10f\n", coef(m$modelStruct$corStruct, unconstrained = FALSE), m$sigma))
cat(R.version.string, " nlme", as.character(packageVersion("nlme")), "\n")
