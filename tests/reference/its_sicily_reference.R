# Reference values for tests/test_its.py, from the authors' published code (Rcode.R in
# github.com/gasparrini/2017_lopezbernal_IJE_codedata) run in base R.  tsModel::harmonic(month, 2, 12)
# is written out as the sine/cosine pairs it returns, so only base R is needed.
# Run:  Rscript tests/reference/its_sicily_reference.R   (from the repository root)
data <- read.csv("tests/reference/its_sicily.csv")
h <- cbind(sin(2 * pi * 1 * data$month / 12), cos(2 * pi * 1 * data$month / 12),
           sin(2 * pi * 2 * data$month / 12), cos(2 * pi * 2 * data$month / 12))
show <- function(name, m, term, scale = summary(m)$dispersion) {
  b <- coef(m)[term]; se <- sqrt(diag(vcov(m)))[term]
  z <- qnorm(0.975)   # Epi::ci.exp uses normal quantiles
  cat(sprintf("%s: coef %.10f se %.10f rr %.10f lo %.10f hi %.10f dispersion %.10f\n",
              name, b, se, exp(b), exp(b - z * se), exp(b + z * se), scale))
}
model1 <- glm(aces ~ offset(log(stdpop)) + smokban + time, family = poisson, data)
show("model1 poisson", model1, "smokban")
model2 <- glm(aces ~ offset(log(stdpop)) + smokban + time, family = quasipoisson, data)
show("model2 quasipoisson", model2, "smokban")
model3 <- glm(aces ~ offset(log(stdpop)) + smokban + time + h, family = quasipoisson, data)
show("model3 quasipoisson+harmonic", model3, "smokban")
cat(sprintf("model3 trend per year %.10f\n", exp(coef(model3)["time"] * 12)))
model4 <- glm(aces ~ offset(log(stdpop)) + smokban + time + I(time - 36):smokban + h,
              family = quasipoisson, data)
show("model4 level", model4, "smokban")
show("model4 slope", model4, "smokban:I(time - 36)")
cat(R.version.string, "\n")
