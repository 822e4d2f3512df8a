import { ConfigurationError } from '../errors/index.js';

/**
 * How the app's pages carry your product: its name, logo and stylesheet, and a link back to your
 * app. URLs are absolute `https:` (or `http:`) URLs or paths on your host (`/static/logo.svg`);
 * the Content-Security-Policy allows the origins they name, and nothing else.
 *
 * @example
 * ```ts
 * createSamsaraApp({
 *   tokens,
 *   brand: { name: 'Acme Dispatch', logo: '/static/acme.svg', stylesheet: '/static/samsara.css', home: { href: '/', label: 'Back to Acme Dispatch' } },
 * });
 * ```
 */
export interface SamsaraAppBrand {
  /** Your product's name, in the header, the page titles and the texts. Default `Samsara connection`. */
  name?: string;
  /** A logo shown in the header (about 32 px high). */
  logo?: string;
  /** A stylesheet loaded after the app's own, to restyle it (the app's classes: `.card`, `.button`...). */
  stylesheet?: string;
  /** A link back to your app, in the header. */
  home?: { href: string; label: string };
}

/** A brand as the pages use it: every field checked, and the CSP sources it needs. */
export interface Brand {
  /** Undefined: the app's own wording ("this app"). */
  product: string | undefined;
  title: string;
  logo: string | undefined;
  stylesheet: string | undefined;
  home: { href: string; label: string } | undefined;
  imgSources: string[];
  styleSources: string[];
}

/** Checks a brand option; `ConfigurationError` names the field that is wrong. */
export function brandOf(option: SamsaraAppBrand | undefined): Brand {
  const brand = option ?? {};
  const text = (value: unknown, field: string): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.trim() === '' || value.length > 200) {
      throw new ConfigurationError(
        `createSamsaraApp option brand.${field} must be a non-empty string of at most 200 characters.`,
      );
    }
    return value;
  };
  const logo = url(brand.logo, 'logo');
  const stylesheet = url(brand.stylesheet, 'stylesheet');
  const home = brand.home && {
    href: url(brand.home.href, 'home.href') as string,
    label: text(brand.home.label, 'home.label') as string,
  };
  if (brand.home && (!home?.href || !home.label)) {
    throw new ConfigurationError('createSamsaraApp option brand.home needs both href and label.');
  }
  const product = text(brand.name, 'name');
  return {
    product,
    title: product ?? 'Samsara connection',
    logo,
    stylesheet,
    home,
    imgSources: originsOf(logo),
    styleSources: originsOf(stylesheet),
  };
}

/** A path on the host, or an absolute http(s) URL; `//host` (protocol-relative) and the rest are refused. */
function url(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  const ok =
    typeof value === 'string' &&
    ((value.startsWith('/') && !value.startsWith('//')) ||
      (URL.canParse(value) && /^https?:$/.test(new URL(value).protocol)));
  if (!ok) {
    throw new ConfigurationError(
      `createSamsaraApp option brand.${field} must be a path on your host (/static/logo.svg) or an absolute http(s) URL.`,
    );
  }
  return value;
}

/** The CSP source an absolute URL needs ('self' covers a path). */
function originsOf(value: string | undefined): string[] {
  return value !== undefined && !value.startsWith('/') ? [new URL(value).origin] : [];
}
